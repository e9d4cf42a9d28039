"""The whole-system demo's work on the portal, through :mod:`dda.client` (the real HTTP API, as a
user would do it): a use case, the synthetic dataset as a dataset version, a model trained by a
portal job and carried through compilation, packaging and publishing, an enrollment token, and a
deployment to the demo station. Each step reuses what an earlier run made."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dda.client import PortalClient
from dda.client.base import PortalError
from dda.core.errors import Unavailable
from dda.portal.schemas.datasets import VersionOut as DatasetVersion
from dda.portal.schemas.jobs import JobOut
from dda.portal.schemas.models import VersionOut as ModelVersion

USECASE = "Demo cookies"
DATASET = "synthetic-cookies"
DATA_FOLDER = "synthetic-cookies"
MODEL = "demo-cookies"
TARGET = {"targets": ["x86_64-cpu"], "precisions": ["fp32"]}
DEVICE_NAME = "demo-station"
Report = Callable[[str], None]


def ensure_usecase(client: PortalClient) -> str:
    found = next((u for u in client.usecases.list() if u.name == USECASE), None)
    if found is not None:
        return found.id
    return client.usecases.create(USECASE, description="made by `make run`: synthetic cookies").id


def ensure_dataset_version(client: PortalClient, usecase_id: str, manifest: Path) -> DatasetVersion:
    """The synthetic photos uploaded to the use case's data, labelled by their Ground Truth manifest."""
    dataset = client.datasets.find(usecase_id, DATASET) or client.datasets.create(
        usecase_id, DATASET, "synthetic cookies made by `make run`"
    )
    versions = client.datasets.versions(usecase_id, dataset.id)
    if versions:
        return max(versions, key=lambda v: v.number)
    root = manifest.parent
    for sub in ("images", "masks"):
        files = sorted(p for p in (root / sub).iterdir() if p.is_file())
        client.data.upload(usecase_id, files, folder=f"{DATA_FOLDER}/{sub}")
    return client.datasets.create_version(
        usecase_id, dataset.id, manifest, label_format="gt", images_folder=DATA_FOLDER
    )


def latest_model_version(client: PortalClient, usecase_id: str) -> ModelVersion | None:
    model = next((m for m in client.models.list(usecase_id) if m.name == MODEL), None)
    if model is None:
        return None
    versions = client.models.versions(usecase_id, model.id)
    return max(versions, key=lambda v: v.version) if versions else None


def wait_job(client: PortalClient, usecase_id: str, job_id: str, report: Report) -> JobOut:
    """Until the job is over, reporting its step and progress as they change; a failed job raises
    with the portal's reason."""
    shown = ""
    while True:
        job = client.jobs.get(usecase_id, job_id)
        line = f"{job.type}: {job.current_step or job.status} ({job.progress:.0f} %)"
        if line != shown:
            report(line)
            shown = line
        if job.status == "succeeded":
            return job
        if job.status in ("failed", "cancelled"):
            raise Unavailable(f"the {job.type} job {job.status}: {job.error}", hint=job.error_hint or "")
        time.sleep(1.0)


def _next_job(client: PortalClient, usecase_id: str, parent_id: str, timeout_s: float = 60.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children = client.jobs.list(usecase_id, parent_id=parent_id)
        if children:
            return children[0].id
        time.sleep(0.5)
    raise Unavailable("the job chain stopped", hint="see the Jobs in the portal")


def train_and_publish(
    client: PortalClient, usecase_id: str, dataset: DatasetVersion, options: dict[str, Any], report: Report
) -> None:
    """One train-and-publish job chain: training -> compilation -> packaging -> publishing."""
    parameters = {
        "dataset": {"version_id": dataset.id},
        "model_type": "segmentation",
        "model_name": MODEL,
        "options": options,
    }
    job = client.jobs.train_and_publish(usecase_id, parameters, name="demo model", **TARGET)
    for _ in range(4):  # the chain's four steps, each a job whose parent is the step before
        done = wait_job(client, usecase_id, job.id, report)
        if done.type == "publishing":
            return
        job = client.jobs.get(usecase_id, _next_job(client, usecase_id, done.id))


def publish_existing(
    client: PortalClient, usecase_id: str, version: ModelVersion, dataset: DatasetVersion, report: Report
) -> None:
    """Compilation, packaging and publishing of a model version whose chain did not finish (an
    earlier run stopped half way), as three jobs."""
    model = {"version_id": version.id, "model_name": MODEL}
    compiled = _run_job(
        client,
        usecase_id,
        "compilation",
        {"model": model, **TARGET, "calibration": {"version_id": dataset.id}},
        report,
    )
    packaged = _run_job(
        client, usecase_id, "packaging", {"model": model, "exports": compiled.result["exports"]}, report
    )
    _run_job(
        client, usecase_id, "publishing", {"model": model, "packages": packaged.result["packages"]}, report
    )


def _run_job(
    client: PortalClient, usecase_id: str, job_type: str, params: dict[str, Any], report: Report
) -> JobOut:
    job = client.jobs.submit(usecase_id, job_type, params, name="demo model")
    return wait_job(client, usecase_id, job.id, report)


def published_package(
    client: PortalClient, usecase_id: str, version: ModelVersion
) -> tuple[str, str, str] | None:
    """(archive key, package name, package version) of the version's published x86_64 FP32
    component; None when it was not published."""
    shas = {p.sha256: p.package_key for p in client.models.packages(usecase_id, version.id)}
    for component in client.jobs.components(usecase_id):
        ref = component.model_ref
        if ref.get("version_id") == version.id and ref.get("precision") == "fp32":
            key = shas.get(component.package_sha256 or "")
            if key:
                return key, component.name, component.version
    return None


def enrollment_token(client: PortalClient, usecase_id: str) -> str:
    body = {"device_name": DEVICE_NAME, "group": "demo", "ttl_s": 600}
    path = f"/api/v1/usecases/{usecase_id}/devices/enrollment-tokens"
    return str(client.http.json("POST", path, json=body)["token"])


def device(client: PortalClient, usecase_id: str, device_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.http.json("GET", f"/api/v1/usecases/{usecase_id}/devices/{device_id}")
    return body


def wait_online(client: PortalClient, usecase_id: str, device_id: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if device(client, usecase_id, device_id)["status"] == "online":
            return
        time.sleep(0.5)
    raise Unavailable("the demo station never came online in the portal", hint="see the station's log")


def deploy(
    client: PortalClient, usecase_id: str, device_id: str, package_key: str, report: Report
) -> dict[str, Any]:
    """A deployment of the package to the demo station (reused when one already completed), followed
    until it completes."""
    base = f"/api/v1/usecases/{usecase_id}/deployments"
    for earlier in client.http.json("GET", base, params={"status": "completed", "limit": 100})["items"]:
        if earlier["target_value"] == device_id and [i.get("package") for i in earlier["items"]] == [
            package_key
        ]:
            return dict(earlier)
    body = {"name": "demo model", "target": {"kind": "device", "value": device_id}, "packages": [package_key]}
    deployment = client.http.json("POST", base, json=body)
    return _follow_deployment(client, f"{base}/{deployment['id']}", report)


def _follow_deployment(
    client: PortalClient, path: str, report: Report, timeout_s: float = 180.0
) -> dict[str, Any]:
    shown = ""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        deployment: dict[str, Any] = client.http.json("GET", path)
        phases = ", ".join(f"{d['phase']} {d['progress_pct']:.0f} %" for d in deployment["devices"])
        line = f"deployment: {deployment['status']} ({phases or 'waiting for the station'})"
        if line != shown:
            report(line)
            shown = line
        if deployment["status"] == "completed":
            return deployment
        if deployment["status"] in ("failed", "cancelled"):
            raise Unavailable(
                f"the deployment {deployment['status']}: {deployment['status_reason']}",
                hint="see Deployments in the portal",
            )
        time.sleep(0.5)
    raise Unavailable(f"the deployment did not complete in {timeout_s:.0f} s", hint="see the station's log")


def login(url: str, username: str, password: str) -> PortalClient:
    client = PortalClient(url)
    try:
        client.auth.login(username, password)
    except PortalError:
        client.close()
        raise
    return client
