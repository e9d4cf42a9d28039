"""The job rules: submit, claim with a lease, heartbeat, finish, cancel, retry, reap lost jobs.

A job is a row. A worker *claims* a queued row by setting its lease (owner + expiry) in one
conditional UPDATE, renews the lease while it works, and finishes the row only while it still
holds the lease. A worker that dies (SIGKILL, power loss) stops renewing; the reaper then marks
its job failed (or queues it again while attempts remain), so no job stays "running" forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dda.core.errors import Conflict, NotFound
from dda.portal.db import Job, JobEvent
from dda.portal.jobs.models import QUEUE_OF, TERMINAL, JobStatus, JobType

MAX_MESSAGE = 4000


def now() -> datetime:
    return datetime.now(UTC)


def new_job(
    usecase_id: str,
    job_type: JobType,
    parameters: dict[str, Any],
    *,
    name: str = "",
    created_by: str | None = None,
    parent_id: str | None = None,
    pipeline: bool = False,
    timeout_s: int,
    max_attempts: int = 1,
) -> Job:
    return Job(
        usecase_id=usecase_id,
        type=job_type.value,
        queue=QUEUE_OF[job_type],
        name=name[:128],
        parameters=parameters,
        status=JobStatus.QUEUED.value,
        parent_id=parent_id,
        pipeline=pipeline,
        created_by=created_by,
        timeout_s=timeout_s,
        max_attempts=max_attempts,
        progress=0.0,
        result={},
        attempt=1,
        cancel_requested=False,
    )


def get(session: Session, usecase_id: str, job_id: str) -> Job:
    row = session.scalar(select(Job).where(Job.id == job_id, Job.usecase_id == usecase_id))
    if row is None:
        raise NotFound(f"no job {job_id!r} in this use case", hint="list the jobs with GET .../jobs")
    return row


def list_jobs(
    session: Session,
    usecase_id: str,
    *,
    status: str | None = None,
    job_type: str | None = None,
    parent_id: str | None = None,
    before: str | None = None,
    limit: int = 50,
) -> list[Job]:
    """Newest first; ``before`` is a cursor (a job id) from the previous page."""
    query = select(Job).where(Job.usecase_id == usecase_id)
    if status:
        query = query.where(Job.status == status)
    if job_type:
        query = query.where(Job.type == job_type)
    if parent_id:
        query = query.where(Job.parent_id == parent_id)
    if before:
        anchor = session.scalar(select(Job).where(Job.id == before, Job.usecase_id == usecase_id))
        if anchor is not None:
            query = query.where(
                (Job.created_at < anchor.created_at)
                | ((Job.created_at == anchor.created_at) & (Job.id < anchor.id))
            )
    return list(session.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)))


def running_count(session: Session, usecase_id: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.usecase_id == usecase_id, Job.status == JobStatus.RUNNING.value)
        )
        or 0
    )


def claim(session: Session, job_id: str, owner: str, lease_s: float, per_usecase: int) -> bool:
    """Take a queued job (False: gone, taken, cancelled, or its use case is at its limit)."""
    row = session.get(Job, job_id)
    if row is None or row.status != JobStatus.QUEUED.value:
        return False
    if running_count(session, row.usecase_id) >= per_usecase:
        return False
    at = now()
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
        .values(
            status=JobStatus.RUNNING.value,
            lease_owner=owner,
            lease_expires_at=at + timedelta(seconds=lease_s),
            worker=owner[:128],
            started_at=at,
            current_step="starting",
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def next_candidates(session: Session, queues: list[str], limit: int = 20) -> list[str]:
    """Queued job ids of these queues, oldest first."""
    query = (
        select(Job.id)
        .where(Job.status == JobStatus.QUEUED.value, Job.queue.in_(queues))
        .order_by(Job.created_at, Job.id)
        .limit(limit)
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class Beat:
    alive: bool  # False: the lease was lost (reaped, or the job was finished by someone else)
    cancel_requested: bool
    started_at: datetime | None
    timeout_s: int


def heartbeat(session: Session, job_id: str, owner: str, lease_s: float) -> Beat:
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.status == JobStatus.RUNNING.value)
        .values(lease_expires_at=now() + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )
    row = session.get(Job, job_id, populate_existing=True)
    if row is None:
        return Beat(False, False, None, 0)
    return Beat(bool(result.rowcount), row.cancel_requested, row.started_at, row.timeout_s)  # type: ignore[attr-defined]


def finish(
    session: Session,
    job_id: str,
    owner: str | None,
    status: JobStatus,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    hint: str | None = None,
) -> Job | None:
    """Record the outcome, only while ``owner`` holds the lease (None: whoever holds it)."""
    row = session.get(Job, job_id, populate_existing=True, with_for_update=True)
    if row is None or row.status != JobStatus.RUNNING.value:
        return None
    if owner is not None and row.lease_owner != owner:
        return None
    row.status = status.value
    row.finished_at = now()
    row.lease_owner = None
    row.lease_expires_at = None
    if result is not None:
        row.result = result
    if status is JobStatus.SUCCEEDED:
        row.progress = 100.0
        row.current_step = "done"
    else:
        row.error = (error or status.value)[:MAX_MESSAGE]
        row.error_hint = (hint or "")[:MAX_MESSAGE] or None
    add_event(
        session,
        job_id,
        "log",
        f"job {status.value}" + (f": {error}" if error else ""),
        level="error" if status is JobStatus.FAILED else "info",
    )
    return row


def request_cancel(session: Session, row: Job) -> None:
    """A queued job is cancelled at once; a running one is asked to stop (its worker notices at
    the next heartbeat and stops the work the graceful way, or terminates it after a grace time)."""
    if row.status in TERMINAL:
        raise Conflict(f"the job is {row.status}", hint="only queued or running jobs can be cancelled")
    if row.status == JobStatus.QUEUED.value:
        row.status = JobStatus.CANCELLED.value
        row.finished_at = now()
        row.error = "cancelled before it started"
        add_event(session, row.id, "log", "job cancelled while queued")
        return
    row.cancel_requested = True
    add_event(session, row.id, "log", "cancel requested")


def retry(session: Session, row: Job, created_by: str | None) -> Job:
    """A new attempt of a failed or cancelled job (same parameters, same parent: a chain resumes
    from this step)."""
    if row.status not in (JobStatus.FAILED.value, JobStatus.CANCELLED.value):
        raise Conflict(f"the job is {row.status}", hint="only failed or cancelled jobs can be retried")
    copy = Job(
        usecase_id=row.usecase_id,
        type=row.type,
        queue=row.queue,
        name=row.name,
        parameters=dict(row.parameters),
        status=JobStatus.QUEUED.value,
        parent_id=row.parent_id,
        retry_of=row.id,
        pipeline=row.pipeline,
        attempt=row.attempt + 1,
        max_attempts=max(row.max_attempts, row.attempt + 1),
        timeout_s=row.timeout_s,
        created_by=created_by,
        progress=0.0,
        result={},
        cancel_requested=False,
    )
    session.add(copy)
    session.flush()
    add_event(session, row.id, "log", f"retried as job {copy.id}")
    return copy


def reap(session: Session) -> list[Job]:
    """Jobs whose worker stopped renewing its lease: queued again while attempts remain, failed
    otherwise. Returns the requeued rows (to be dispatched again)."""
    at = now()
    stale = session.scalars(
        select(Job)
        .where(Job.status == JobStatus.RUNNING.value, Job.lease_expires_at < at)
        .with_for_update(skip_locked=True)
    ).all()
    requeued: list[Job] = []
    for row in stale:
        lost = f"the worker {row.worker or '?'} stopped answering (lease expired)"
        row.lease_owner = None
        row.lease_expires_at = None
        if row.attempt < row.max_attempts and not row.cancel_requested:
            row.status = JobStatus.QUEUED.value
            row.attempt += 1
            add_event(
                session, row.id, "log", f"{lost}; queued again (attempt {row.attempt})", level="warning"
            )
            requeued.append(row)
            continue
        row.status = JobStatus.FAILED.value
        row.finished_at = at
        row.error = lost
        row.error_hint = "the worker process died or lost the database; retry the job"
        add_event(session, row.id, "log", lost, level="error")
    return requeued


def add_event(
    session: Session,
    job_id: str,
    kind: str,
    message: str = "",
    *,
    level: str = "info",
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        JobEvent(job_id=job_id, kind=kind, level=level, message=message[:MAX_MESSAGE], data=data or {})
    )


def events(
    session: Session, job_id: str, *, after: int = 0, kind: str | None = None, limit: int = 1000
) -> list[JobEvent]:
    query = select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.seq > after)
    if kind:
        query = query.where(JobEvent.kind == kind)
    return list(session.scalars(query.order_by(JobEvent.seq).limit(limit)))


def set_progress(session: Session, job_id: str, progress: float | None, step: str | None) -> None:
    values: dict[str, Any] = {}
    if progress is not None:
        values["progress"] = max(0.0, min(100.0, float(progress)))
    if step is not None:
        values["current_step"] = step[:128]
    if values:
        session.execute(
            update(Job).where(Job.id == job_id).values(**values).execution_options(synchronize_session=False)
        )


def chain(session: Session, root_id: str) -> list[Job]:
    """Every job linked to ``root_id`` through parent ids (the pipeline it started), oldest first."""
    found: list[Job] = []
    frontier = [root_id]
    while frontier:
        children = list(session.scalars(select(Job).where(Job.parent_id.in_(frontier))))
        found.extend(children)
        frontier = [c.id for c in children]
    return sorted(found, key=lambda j: (j.created_at, j.id))
