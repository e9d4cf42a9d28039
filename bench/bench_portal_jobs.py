"""Portal job figures: training through the portal vs `dda train`, submit -> running latency of
the embedded and Celery executors, and the API's p99 on a list endpoint while a job trains.

    PYTHONPATH=src .venv/bin/python bench/bench_portal_jobs.py [--epochs 3] [--latency-jobs 10]

Targets: portal/CLI wall-time ratio <= 1.05; list endpoint p99 < 100 ms during training.
Uses the cookie set in ../shared/datasets/cookies, Redis on 127.0.0.1:6379 for Celery. The
figures depend on what else the machine is doing: run it on an otherwise idle box.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
COOKIES = REPO.parent / "shared" / "datasets" / "cookies"
MANIFEST = COOKIES / "dataset-files" / "manifests" / "train_class.manifest"
COOKIE_MAP = f"s3://dda-cookie-dataset-571264418424/cookies/={COOKIES}/"
PASSWORD = "Correct-Horse-9-battery"
TARGET_RATIO = 1.05
TARGET_P99_MS = 100.0


def cookie_folder(work: Path) -> Path:
    """The cookie set as a self-contained folder: images plus a Ground Truth manifest naming them
    relative to itself (what the portal keeps in a use case's store)."""
    from dda.formats.dataset import Dataset
    from dda.formats.loader import load_dataset
    from dda.formats.uris import parse_mappings
    from dda.formats.writers import write_groundtruth_manifest

    dataset = load_dataset(MANIFEST, mappings=parse_mappings([COOKIE_MAP]), progress=False)
    folder = work / "cookies"
    samples = []
    for sample in dataset.samples:
        target = folder / "images" / Path(sample.image_path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample.image_path, target)
        samples.append(type(sample)(target, sample.label, None, source_ref=target.name))
    write_groundtruth_manifest(
        Dataset(samples, dataset.class_names, [], "cookies"), folder / "gt.manifest", job="cookies"
    )
    return folder


def start_portal(data_dir: Path, **portal: Any) -> Any:
    from fastapi.testclient import TestClient

    from dda.core.settings import Settings
    from dda.portal.app import create_app

    settings = Settings(data_dir=data_dir, env="test", portal=portal)  # type: ignore[arg-type]
    client = TestClient(create_app(settings, configure_logs=False))
    client.__enter__()
    return client


def login_and_usecase(client: Any, folder: Path | None) -> tuple[dict[str, str], str]:
    from dda.portal.repositories import usecases as usecases_repo
    from dda.portal.services import auth as auth_service
    from dda.portal.services import storage

    portal = client.app.state.portal
    with portal.session() as session:
        auth_service.create_user(session, "bench", PASSWORD, is_portal_admin=True)
    token = client.post("/api/v1/auth/login", json={"username": "bench", "password": PASSWORD}).json()[
        "access_token"
    ]
    headers = {"Authorization": f"Bearer {token}"}
    usecase_id = client.post("/api/v1/usecases", json={"name": "bench"}, headers=headers).json()["id"]
    if folder is not None:
        with portal.session() as session:
            row = usecases_repo.by_id(session, usecase_id)
            store = storage.store_for(portal, "usecases", row, row.id)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            store.put_file(f"datasets/cookies/{path.relative_to(folder).as_posix()}", path)
    return headers, usecase_id


def wait(
    client: Any, headers: dict[str, str], usecase_id: str, job_id: str, statuses: set[str]
) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = client.get(
            f"/api/v1/usecases/{usecase_id}/jobs/{job_id}", headers=headers
        ).json()
        if job["status"] in statuses:
            return job
        time.sleep(0.05)


def bench_overhead(work: Path, folder: Path, epochs: int) -> None:
    """The same training on the CLI and through the portal (embedded executor)."""
    env = {**os.environ, "DDA_DATA_DIR": str(work / "cli-data"), "DDA_LOG_LEVEL": "WARNING"}
    cli = [
        sys.executable,
        "-c",
        "from dda.cli.main import main; main()",
        "train",
        str(folder / "gt.manifest"),
        "--epochs",
        str(epochs),
        "--out",
        str(work / "cli-model.tar.gz"),
        "--no-progress",
    ]
    start = time.perf_counter()
    subprocess.run(cli, env=env, check=True, stdout=subprocess.DEVNULL)
    cli_s = time.perf_counter() - start
    client = start_portal(work / "portal-overhead", job_workers=1)
    headers, usecase_id = login_and_usecase(client, folder)
    params = {
        "dataset": {"store_prefix": "datasets/cookies", "manifest": "gt.manifest"},
        "options": {"epochs": epochs},
    }
    start = time.perf_counter()
    response = client.post(
        f"/api/v1/usecases/{usecase_id}/jobs",
        json={"type": "training", "parameters": params},
        headers=headers,
    )
    job = wait(client, headers, usecase_id, response.json()["id"], {"succeeded", "failed"})
    portal_s = time.perf_counter() - start
    client.__exit__(None, None, None)
    assert job["status"] == "succeeded", job["error"]
    ratio = portal_s / cli_s
    print(f"training, {epochs} epochs: CLI {cli_s:.1f} s, portal job {portal_s:.1f} s (submit -> succeeded)")
    verdict = "OK" if ratio <= TARGET_RATIO else "MISSED"
    print(f"  portal / CLI ratio {ratio:.3f} (target <= {TARGET_RATIO}) {verdict}")


def _latencies(client: Any, headers: dict[str, str], usecase_id: str, count: int) -> list[float]:
    """submit -> running (started_at - created_at) of quick jobs, one at a time."""
    body = {"type": "compilation", "parameters": {"model": {"artifact_key": "models/none/model.tar.gz"}}}
    found = []
    for _ in range(count):
        job_id = client.post(f"/api/v1/usecases/{usecase_id}/jobs", json=body, headers=headers).json()["id"]
        job = wait(client, headers, usecase_id, job_id, {"failed", "succeeded"})
        from datetime import datetime

        started, created = (datetime.fromisoformat(job[k]) for k in ("started_at", "created_at"))
        found.append((started - created).total_seconds() * 1000)
    return found


def bench_latency(work: Path, count: int) -> None:
    client = start_portal(work / "latency-embedded")
    headers, usecase_id = login_and_usecase(client, None)
    report("embedded", _latencies(client, headers, usecase_id, count))
    client.__exit__(None, None, None)
    settings = {
        "executor": "celery",
        "broker_url": "redis://127.0.0.1:6379/0",
        "queue_prefix": f"b{uuid.uuid4().hex[:6]}-",
    }
    data_dir = work / "latency-celery"
    client = start_portal(data_dir, **settings)
    headers, usecase_id = login_and_usecase(client, None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDA_")}
    env.update(
        DDA_DATA_DIR=str(data_dir),
        DDA_ENV="test",
        **{f"DDA_PORTAL__{k.upper()}": v for k, v in settings.items()},
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", "from dda.cli.main import main; main()", "portal", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _latencies(client, headers, usecase_id, 1)  # the worker's start-up is not submit latency
        report("celery (redis)", _latencies(client, headers, usecase_id, count))
    finally:
        worker.terminate()
        worker.wait(30)
        client.__exit__(None, None, None)


def report(name: str, values: list[float]) -> None:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    median = statistics.median(values)
    print(f"submit -> running, {name}: median {median:.0f} ms, p95 {p95:.0f} ms ({len(values)} jobs)")


def bench_api_p99(work: Path, folder: Path, epochs: int, requests: int) -> None:
    client = start_portal(work / "api-p99", job_workers=1)
    headers, usecase_id = login_and_usecase(client, folder)
    params = {
        "dataset": {"store_prefix": "datasets/cookies", "manifest": "gt.manifest"},
        "options": {"epochs": epochs},
    }
    job_id = client.post(
        f"/api/v1/usecases/{usecase_id}/jobs",
        json={"type": "training", "parameters": params},
        headers=headers,
    ).json()["id"]
    wait(client, headers, usecase_id, job_id, {"running"})
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        assert client.get(f"/api/v1/usecases/{usecase_id}/jobs", headers=headers).status_code == 200
        times.append((time.perf_counter() - start) * 1000)
        time.sleep(0.02)
    state = client.get(f"/api/v1/usecases/{usecase_id}/jobs/{job_id}", headers=headers).json()["status"]
    client.post(f"/api/v1/usecases/{usecase_id}/jobs/{job_id}/cancel", headers=headers)
    client.__exit__(None, None, None)
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(
        f"GET .../jobs while training ({state} at the end): median {statistics.median(times):.1f} ms, "
        f"p99 {p99:.1f} ms (target < {TARGET_P99_MS:.0f}) {'OK' if p99 < TARGET_P99_MS else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=3, help="training epochs of the overhead run")
    parser.add_argument("--latency-jobs", type=int, default=10)
    parser.add_argument("--requests", type=int, default=300, help="list requests while training")
    parser.add_argument("--skip", nargs="*", default=[], choices=["overhead", "latency", "api"])
    args = parser.parse_args()
    if not MANIFEST.is_file():
        raise SystemExit(f"the cookie set is not at {COOKIES}")
    with tempfile.TemporaryDirectory(prefix="dda-bench-jobs-") as tmp:
        work = Path(tmp)
        folder = cookie_folder(work)
        if "overhead" not in args.skip:
            bench_overhead(work, folder, args.epochs)
        if "latency" not in args.skip:
            bench_latency(work, args.latency_jobs)
        if "api" not in args.skip:
            bench_api_p99(work, folder, max(args.epochs, 5), args.requests)


if __name__ == "__main__":
    main()
