"""Jobs of a use case: submit (any type, or one-click train-and-publish), list, read, logs,
live events (server-sent), cancel, retry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import Access, PortalDep, SessionDep, require
from dda.portal.context import Portal
from dda.portal.db import Job
from dda.portal.jobs import service
from dda.portal.jobs.executors import dispatch_after_commit
from dda.portal.jobs.models import TERMINAL, JobType
from dda.portal.jobs.submit import submit, training
from dda.portal.permissions import Permission
from dda.portal.schemas.common import Id, Limit, Page
from dda.portal.schemas.jobs import (
    JobCreate,
    JobDetail,
    JobEventOut,
    JobOut,
    TrainAndPublish,
    event_out,
    job_out,
)
from dda.portal.services.audit import AuditEntry

router = APIRouter(prefix="/api/v1/usecases/{usecase_id}/jobs", tags=["jobs"])
View = Annotated[Access, Depends(require(Permission.TRAINING_VIEW))]
Write = Annotated[Access, Depends(require(Permission.TRAINING_WRITE))]
SSE_POLL_S = 0.5


def _audit(request: Request, action: str, job: JobOut, **summary: object) -> None:
    record(
        request,
        AuditEntry(action=action, target_type="job", target_id=job.id, summary={"type": job.type, **summary}),
    )


@router.get("", response_model=Page[JobOut])
def list_jobs(
    usecase_id: str,
    session: SessionDep,
    access: View,
    status: Annotated[str | None, Query(max_length=16)] = None,
    type: Annotated[str | None, Query(max_length=32)] = None,
    parent_id: Annotated[Id | None, Query()] = None,
    cursor: Annotated[Id | None, Query()] = None,
    limit: Limit = 50,
) -> Page[JobOut]:
    rows = service.list_jobs(
        session, usecase_id, status=status, job_type=type, parent_id=parent_id, before=cursor, limit=limit + 1
    )
    return Page(
        items=[job_out(r) for r in rows[:limit]],
        next_cursor=rows[limit - 1].id if len(rows) > limit else None,
    )


@router.post("", response_model=JobOut, status_code=201)
def create_job(
    usecase_id: str, body: JobCreate, request: Request, portal: PortalDep, session: SessionDep, access: Write
) -> JobOut:
    user = access.principal.user_id
    if body.type == JobType.TRAINING.value:
        row = training(
            session,
            portal,
            usecase_id,
            body.parameters,
            created_by=user,
            name=body.name,
            timeout_s=body.timeout_s,
        )
    else:
        row = submit(
            session,
            portal,
            usecase_id,
            JobType(body.type),
            body.parameters,
            created_by=user,
            name=body.name,
            timeout_s=body.timeout_s,
        )
    out = job_out(row)
    _audit(request, "job.create", out, pipeline=row.pipeline)
    return out


@router.post("/train-and-publish", response_model=JobOut, status_code=201)
def train_and_publish(
    usecase_id: str,
    body: TrainAndPublish,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Write,
) -> JobOut:
    chain = {"targets": body.targets, "precisions": body.precisions}
    row = training(
        session,
        portal,
        usecase_id,
        body.parameters,
        created_by=access.principal.user_id,
        publish=True,
        chain=chain,
        name=body.name,
        timeout_s=body.timeout_s,
    )
    out = job_out(row)
    _audit(request, "job.train_and_publish", out, pipeline=row.parameters.get("pipeline"))
    return out


@router.get("/{job_id}", response_model=JobDetail)
def get_job(usecase_id: str, job_id: str, session: SessionDep, access: View) -> JobDetail:
    row = service.get(session, usecase_id, job_id)
    chain = [job_out(j) for j in service.chain(session, row.id)]
    return JobDetail(**job_out(row).model_dump(), chain=chain)


@router.get("/{job_id}/logs", response_model=list[JobEventOut])
def job_logs(
    usecase_id: str,
    job_id: str,
    session: SessionDep,
    access: View,
    kind: Annotated[str | None, Query(pattern="^(log|metric)$")] = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[JobEventOut]:
    service.get(session, usecase_id, job_id)
    return [event_out(e) for e in service.events(session, job_id, after=after, kind=kind, limit=limit)]


def _poll(portal: Portal, job_id: str, after: int) -> tuple[list[JobEventOut], JobOut | None]:
    with portal.session() as session:
        row = session.get(Job, job_id)
        items = [event_out(e) for e in service.events(session, job_id, after=after, limit=500)]
        return items, (job_out(row) if row is not None else None)


async def _stream(portal: Portal, job_id: str, after: int) -> AsyncIterator[str]:
    last_state = None
    while True:
        items, job = await run_in_threadpool(_poll, portal, job_id, after)
        for item in items:
            after = item.seq
            yield f"id: {item.seq}\nevent: {item.kind}\ndata: {item.model_dump_json()}\n\n"
        if job is None:
            return
        state = (job.status, round(job.progress, 1), job.current_step)
        if state != last_state:
            last_state = state
            yield f"event: status\ndata: {json.dumps(job.model_dump(mode='json'))}\n\n"
        if job.status in TERMINAL and not items:
            yield "event: end\ndata: {}\n\n"
            return
        await asyncio.sleep(SSE_POLL_S)


@router.get("/{job_id}/events")
def job_events(
    usecase_id: str,
    job_id: str,
    request: Request,
    portal: PortalDep,
    access: View,
    after: Annotated[int, Query(ge=0)] = 0,
) -> StreamingResponse:
    """Server-sent events: ``log`` and ``metric`` (epoch, loss, validation) as they are stored,
    ``status`` on every change, ``end`` when the job is over. Resume with ``after`` (or the
    Last-Event-ID header)."""
    with portal.session() as session:
        service.get(session, usecase_id, job_id)
    header = request.headers.get("last-event-id", "")
    start = int(header) if header.isdigit() else after
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_stream(portal, job_id, start), media_type="text/event-stream", headers=headers)


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(usecase_id: str, job_id: str, request: Request, session: SessionDep, access: Write) -> JobOut:
    row = service.get(session, usecase_id, job_id)
    service.request_cancel(session, row)
    out = job_out(row)
    _audit(request, "job.cancel", out, status=row.status)
    return out


@router.post("/{job_id}/retry", response_model=JobOut, status_code=201)
def retry_job(
    usecase_id: str, job_id: str, request: Request, portal: PortalDep, session: SessionDep, access: Write
) -> JobOut:
    """A new attempt with the same parameters and parent: a stopped pipeline resumes from here."""
    row = service.get(session, usecase_id, job_id)
    copy = service.retry(session, row, access.principal.user_id)
    dispatch_after_commit(session, portal.settings, [(copy.id, copy.queue)])
    out = job_out(copy)
    _audit(request, "job.retry", out, retry_of=row.id)
    return out
