"""Inside the job process: run the handler and record the outcome (while holding the lease)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from dda.core.errors import DDAError
from dda.core.logging import get_logger
from dda.ml.training.signals import GracefulStop
from dda.portal.context import Portal
from dda.portal.db import Job
from dda.portal.jobs import pipeline, service
from dda.portal.jobs.context import JobContext
from dda.portal.jobs.executors import dispatch
from dda.portal.jobs.handlers import handler_for
from dda.portal.jobs.models import JobCancelled, JobFailed, JobStatus, JobType

log = get_logger(__name__)


def _context(portal: Portal, job_id: str, workdir: Path, stop: GracefulStop) -> JobContext | None:
    with portal.session() as session:
        row = session.get(Job, job_id)
        if row is None:
            return None
        return JobContext(
            portal=portal,
            job_id=row.id,
            usecase_id=row.usecase_id,
            job_type=row.type,
            parameters=dict(row.parameters),
            parent_id=row.parent_id,
            created_by=row.created_by,
            workdir=workdir,
            stop=stop,
        )


def _outcome(ctx: JobContext) -> tuple[JobStatus, dict[str, Any] | None, str | None, str | None]:
    handler = handler_for(JobType(ctx.job_type))
    try:
        params = handler.params.model_validate(ctx.parameters)
        ctx.log(f"{ctx.job_type} started on {socket.gethostname()} (pid {os.getpid()})")
        result = handler.run(ctx, params)
        return JobStatus.SUCCEEDED, result, None, None
    except JobCancelled:
        if ctx.stop.reason == "timeout":
            return JobStatus.FAILED, None, "timed out", "raise the job's timeout_s or train fewer epochs"
        return JobStatus.CANCELLED, None, "cancelled", None
    except JobFailed as exc:
        return JobStatus.FAILED, None, exc.message, exc.hint
    except DDAError as exc:
        return JobStatus.FAILED, None, _clean(ctx, exc.message), exc.hint
    except Exception as exc:
        log.exception("job failed", job_id=ctx.job_id)
        return (
            JobStatus.FAILED,
            None,
            f"internal error ({type(exc).__name__}: {_clean(ctx, str(exc))[:300]})",
            ("see the worker's log; retry the job"),
        )


def _clean(ctx: JobContext, message: str) -> str:
    return message.replace(str(ctx.workdir), "<job>")


def execute(portal: Portal, job_id: str, owner: str, workdir: Path, stop: GracefulStop) -> None:
    ctx = _context(portal, job_id, workdir, stop)
    if ctx is None:
        return
    workdir.mkdir(parents=True, exist_ok=True)
    status, result, error, hint = _outcome(ctx)
    followups: list[Job] = []
    with portal.session() as session:
        row = service.finish(session, job_id, owner, status, result=result, error=error, hint=hint)
        if row is not None and status is JobStatus.SUCCEEDED:
            followups = pipeline.after_success(session, row)
        pending = [(j.id, j.queue) for j in followups]
    dispatch(portal.settings, pending)
