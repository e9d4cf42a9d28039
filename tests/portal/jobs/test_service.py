"""The job rules without a worker: leases, the per-use-case concurrency limit, heartbeats of a
lost lease, the reaper (requeue while attempts remain, then failed), cancel and retry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dda.core.errors import Conflict, InvalidInput
from dda.portal.db import Job
from dda.portal.jobs import service
from dda.portal.jobs.handlers import check_parameters
from dda.portal.jobs.models import JobStatus, JobType
from tests.portal.conftest import PortalHarness


@pytest.fixture(params=["sqlite", "postgresql"])
def quiet_portal(request: pytest.FixtureRequest, make_portal) -> PortalHarness:  # type: ignore[no-untyped-def]
    """A portal on each database with no job pool (the tests play the worker)."""
    url = request.getfixturevalue("postgres_database_url") if request.param == "postgresql" else None
    harness: PortalHarness = make_portal(url, job_workers=0)
    return harness


def _usecase(h: PortalHarness) -> str:
    h.make_user("admin", admin=True)
    return h.create_usecase(h.login("admin"), "line-1")


def _queue(h: PortalHarness, usecase_id: str, **extra: object) -> str:
    with h.portal.session() as session:
        row = service.new_job(usecase_id, JobType.PUBLISHING, {}, timeout_s=60, **extra)  # type: ignore[arg-type]
        session.add(row)
        session.flush()
        return row.id


def test_claim_respects_the_per_usecase_limit_and_leases(quiet_portal: PortalHarness) -> None:
    h = quiet_portal
    usecase_id = _usecase(h)
    first, second = _queue(h, usecase_id), _queue(h, usecase_id)
    with h.portal.session() as session:
        assert service.claim(session, first, "w1", 30, per_usecase=1)
    with h.portal.session() as session:
        assert not service.claim(session, first, "w2", 30, per_usecase=5)  # taken
        assert not service.claim(session, second, "w2", 30, per_usecase=1)  # the use case is at its limit
        assert service.heartbeat(session, first, "w2", 30).alive is False  # not w2's lease
        assert service.heartbeat(session, first, "w1", 30).alive is True
        assert service.finish(session, first, "w2", JobStatus.SUCCEEDED) is None
        assert service.finish(session, first, "w1", JobStatus.SUCCEEDED, result={"ok": 1}) is not None
    with h.portal.session() as session:
        assert service.claim(session, second, "w2", 30, per_usecase=1)


def test_reaper_requeues_then_fails_a_lost_job(quiet_portal: PortalHarness) -> None:
    h = quiet_portal
    usecase_id = _usecase(h)
    job_id = _queue(h, usecase_id, max_attempts=2)
    for expected in (JobStatus.QUEUED, JobStatus.FAILED):
        with h.portal.session() as session:
            assert service.claim(session, job_id, "gone", 30, per_usecase=5)
            row = session.get(Job, job_id)
            row.lease_expires_at = service.now() - timedelta(seconds=1)
        with h.portal.session() as session:
            service.reap(session)
        with h.portal.session() as session:
            row = session.get(Job, job_id)
            assert row.status == expected.value and row.lease_owner is None
    assert row.attempt == 2 and "stopped answering" in (row.error or "")


def test_cancel_and_retry(quiet_portal: PortalHarness) -> None:
    h = quiet_portal
    usecase_id = _usecase(h)
    job_id = _queue(h, usecase_id)
    with h.portal.session() as session:
        row = service.get(session, usecase_id, job_id)
        with pytest.raises(Conflict):
            service.retry(session, row, None)  # only failed or cancelled jobs
        service.request_cancel(session, row)
        assert row.status == "cancelled"
        with pytest.raises(Conflict):
            service.request_cancel(session, row)
        copy = service.retry(session, row, None)
        assert (copy.status, copy.attempt, copy.retry_of) == ("queued", 2, job_id)
    with h.portal.session() as session:
        assert service.claim(session, copy.id, "w", 30, per_usecase=5)
        running = service.get(session, usecase_id, copy.id)
        service.request_cancel(session, running)  # running: a request the worker acts on
        assert running.status == "running" and running.cancel_requested


def test_parameters_are_checked_at_submit() -> None:
    with pytest.raises(InvalidInput, match="dataset"):
        check_parameters(JobType.TRAINING, {"model_type": "classification"})
    with pytest.raises(InvalidInput, match="not allowed"):
        check_parameters(
            JobType.TRAINING, {"dataset": {"store_prefix": "d"}, "options": {"checkpoint_path": "/etc/x"}}
        )
    with pytest.raises(InvalidInput):
        check_parameters(JobType.TRAINING, {"dataset": {"store_prefix": "../other-tenant"}})
    checked = check_parameters(JobType.COMPILATION, {"model": {"artifact_key": "models/m/model.tar.gz"}})
    assert checked["targets"] == ["x86_64-cpu"] and checked["precisions"] == ["fp32"]
