"""Job tests: a portal with short leases and polls, a synthetic dataset in the use case's store,
and helpers that wait for a job's status through the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dda.formats.synthetic import generate_synthetic_dataset
from dda.portal.permissions import Role
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services import storage
from tests.portal.conftest import PortalHarness

FAST = {
    "job_lease_s": 8.0,
    "job_heartbeat_s": 0.3,
    "job_poll_s": 0.2,
    "job_cancel_grace_s": 20.0,
    "job_workers": 2,
}
# Tiny, quick training: no pretrained download, small images, few epochs.
TINY = {"epochs": 2, "input_size": [64, 64], "batch_size": 8, "pretrained": False, "num_threads": 2}


def upload_dataset(
    harness: PortalHarness, usecase_id: str, work: Path, *, count: int = 16, prefix: str = "datasets/synth"
) -> dict[str, Any]:
    """A synthetic cookie set (Ground Truth manifest + images + masks) in the use case's store."""
    folder = work / prefix.replace("/", "_")
    generate_synthetic_dataset(folder, count=count, size=(64, 64), progress=False)
    with harness.portal.session() as session:
        row = usecases_repo.by_id(session, usecase_id)
        assert row is not None
        store = storage.store_for(harness.portal, "usecases", row, row.id)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        store.put_file(f"{prefix}/{path.relative_to(folder).as_posix()}", path)
    return {"store_prefix": prefix, "manifest": "groundtruth.manifest"}


def upload_discs(
    harness: PortalHarness, usecase_id: str, work: Path, prefix: str = "datasets/discs"
) -> dict[str, Any]:
    """Discs with and without a crack (the set whose trained model passes the INT8 parity gate in
    tests/ml) as a Ground Truth manifest with its images in the use case's store."""
    from dda.formats.writers import write_groundtruth_manifest
    from tests.ml.test_train import make_disc_dataset

    folder = work / prefix.replace("/", "_")
    write_groundtruth_manifest(make_disc_dataset(folder), folder / "groundtruth.manifest", job="discs")
    _upload(harness, usecase_id, folder, prefix)
    return {"store_prefix": prefix, "manifest": "groundtruth.manifest"}


def _upload(harness: PortalHarness, usecase_id: str, folder: Path, prefix: str) -> None:
    with harness.portal.session() as session:
        row = usecases_repo.by_id(session, usecase_id)
        assert row is not None
        store = storage.store_for(harness.portal, "usecases", row, row.id)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        store.put_file(f"{prefix}/{path.relative_to(folder).as_posix()}", path)


def wait_job(
    harness: PortalHarness,
    headers: dict[str, str],
    usecase_id: str,
    job_id: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 600.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = harness.client.get(f"/api/v1/usecases/{usecase_id}/jobs/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if until(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(
                f"job did not reach the state in {timeout} s: {job['status']} {job['error']}"
            )
        time.sleep(0.2)


def finished(job: dict[str, Any]) -> bool:
    return job["status"] in ("succeeded", "failed", "cancelled")


def wait_done(
    harness: PortalHarness, headers: dict[str, str], usecase_id: str, job_id: str, timeout: float = 900.0
) -> dict[str, Any]:
    return wait_job(harness, headers, usecase_id, job_id, finished, timeout)


def setup_usecase(harness: PortalHarness, **settings: Any) -> tuple[dict[str, str], str]:
    """An admin, a use case, and a DataScientist in it; returns the scientist's headers."""
    admin = harness.make_user("admin", admin=True)
    assert admin
    admin_headers = harness.login("admin")
    usecase_id = (
        harness.create_usecase(admin_headers, "line-1", settings=settings)
        if settings
        else harness.create_usecase(admin_headers, "line-1")
    )
    harness.make_user("scientist", role=Role.DATA_SCIENTIST, usecase_id=usecase_id)
    return harness.login("scientist"), usecase_id


@pytest.fixture
def jobs_portal(make_portal) -> PortalHarness:  # type: ignore[no-untyped-def]
    harness: PortalHarness = make_portal(None, **FAST)
    return harness
