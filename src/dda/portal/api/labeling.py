"""Labeling jobs of a use case: create (from a store folder or dataset version, with task type,
labels, instructions, labelers, optional reviewers and model pre-labels), progress, and the
labeler's loop: claim next, save draft, submit, skip; review (accept / send back); complete."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import Access, PortalDep, SessionDep, require
from dda.portal.db import LabelingJob, LabelingTask
from dda.portal.permissions import Permission
from dda.portal.schemas.labeling import (
    AnnotationBody,
    CompleteBody,
    LabelerOut,
    LabelingJobCreate,
    LabelingJobOut,
    ReviewBody,
    TaskOut,
)
from dda.portal.services import labeling, labeling_export, storage
from dda.portal.services import usecases as usecases_service
from dda.portal.services.audit import AuditEntry

router = APIRouter(prefix="/api/v1/usecases/{usecase_id}/labeling", tags=["labeling"])
View = Annotated[Access, Depends(require(Permission.LABELING_VIEW))]
Write = Annotated[Access, Depends(require(Permission.LABELING_WRITE))]
Work = Annotated[Access, Depends(require(Permission.LABELING_WORK))]


def _job_out(session: SessionDep, row: LabelingJob) -> LabelingJobOut:
    counts, per_labeler = labeling.progress(session, row)
    return LabelingJobOut(
        id=row.id,
        name=row.name,
        task_type=row.task_type,
        labels=row.labels,
        instructions=row.instructions,
        source=row.source,
        labelers=row.labelers,
        reviewers=row.reviewers,
        status=row.status,
        output=row.output,
        created_at=row.created_at,
        completed_at=row.completed_at,
        counts=counts,
        per_labeler=per_labeler,
    )


def _task_out(usecase_id: str, row: LabelingTask) -> TaskOut:
    return TaskOut(
        id=row.id,
        job_id=row.job_id,
        position=row.position,
        status=row.status,
        image_url=f"/api/v1/usecases/{usecase_id}/labeling/{row.job_id}/tasks/{row.id}/image",
        annotation=row.annotation,
        prelabel=row.prelabel,
        comment=row.comment,
        assignee_id=row.assignee_id,
        reviewer_id=row.reviewer_id,
        updated_at=row.updated_at,
    )


def _audit(request: Request, action: str, target_type: str, target_id: str, **summary: object) -> None:
    record(request, AuditEntry(action=action, target_type=target_type, target_id=target_id, summary=summary))


@router.get("", response_model=list[LabelingJobOut])
def list_labeling_jobs(usecase_id: str, session: SessionDep, access: View) -> list[LabelingJobOut]:
    return [_job_out(session, r) for r in labeling.list_jobs(session, usecase_id)]


@router.post("", response_model=LabelingJobOut, status_code=201)
def create_labeling_job(
    usecase_id: str,
    body: LabelingJobCreate,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Write,
) -> LabelingJobOut:
    row = labeling.create(session, portal, usecase_id, body, access.principal.user_id)
    out = _job_out(session, row)
    _audit(request, "labeling.create", "labeling_job", row.id, name=row.name, images=sum(out.counts.values()))
    return out


@router.get("/people", response_model=list[LabelerOut])
def list_people(usecase_id: str, session: SessionDep, access: View) -> list[LabelerOut]:
    """The team members a job may name as labelers or reviewers (the team list itself needs
    team:view, which a DataScientist does not hold)."""
    return [
        LabelerOut(user_id=u.id, username=u.username, display_name=u.display_name, role=role)
        for u, role in labeling.people(session, usecase_id)
    ]


@router.get("/{job_id}", response_model=LabelingJobOut)
def get_labeling_job(usecase_id: str, job_id: str, session: SessionDep, access: View) -> LabelingJobOut:
    return _job_out(session, labeling.get(session, usecase_id, job_id))


TaskStatus = Literal["pending", "assigned", "submitted", "sent_back", "accepted", "skipped"]


@router.get("/{job_id}/tasks", response_model=list[TaskOut])
def list_tasks(
    usecase_id: str,
    job_id: str,
    session: SessionDep,
    access: View,
    mine: Annotated[bool, Query(description="only the caller's tasks")] = False,
    status: TaskStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[TaskOut]:
    """The job's first ``limit`` tasks in order (the tool's previous/next, the job page's table)."""
    job = labeling.get(session, usecase_id, job_id)
    assignee = access.principal.user_id if mine else None
    return [_task_out(usecase_id, r) for r in labeling.tasks_of(session, job, assignee, status, limit)]


@router.get("/{job_id}/tasks/{task_id}", response_model=TaskOut)
def get_task(usecase_id: str, job_id: str, task_id: str, session: SessionDep, access: View) -> TaskOut:
    return _task_out(usecase_id, labeling.task(session, labeling.get(session, usecase_id, job_id), task_id))


@router.post("/{job_id}/tasks/next", response_model=TaskOut | None)
def claim_task(
    usecase_id: str, job_id: str, request: Request, session: SessionDep, access: Work
) -> TaskOut | None:
    """The caller's unfinished task, or the next free image; null when none is left."""
    row = labeling.claim_next(session, labeling.get(session, usecase_id, job_id), access.principal.user_id)
    if row is not None:
        _audit(request, "labeling.claim", "labeling_task", row.id, job_id=job_id)
    return _task_out(usecase_id, row) if row is not None else None


@router.get("/{job_id}/tasks/{task_id}/image")
def task_image(
    usecase_id: str, job_id: str, task_id: str, portal: PortalDep, session: SessionDep, access: Work
) -> Response:
    row = labeling.task(session, labeling.get(session, usecase_id, job_id), task_id)
    usecase = usecases_service.get(session, usecase_id)
    data = storage.store_for(portal, "usecases", usecase, usecase.id).get_bytes(row.image_key)
    kind = "image/png" if row.image_key.lower().endswith(".png") else "image/jpeg"
    return Response(data, media_type=kind, headers={"Cache-Control": "private, max-age=300"})


@router.put("/{job_id}/tasks/{task_id}/draft", response_model=TaskOut)
def save_draft(
    usecase_id: str,
    job_id: str,
    task_id: str,
    body: AnnotationBody,
    request: Request,
    session: SessionDep,
    access: Work,
) -> TaskOut:
    job = labeling.get(session, usecase_id, job_id)
    row = labeling.task(session, job, task_id)
    labeling.save_draft(job, row, access.principal.user_id, body.annotation)
    _audit(request, "labeling.draft", "labeling_task", row.id, job_id=job_id)
    return _task_out(usecase_id, row)


@router.post("/{job_id}/tasks/{task_id}/submit", response_model=TaskOut)
def submit_task(
    usecase_id: str,
    job_id: str,
    task_id: str,
    body: AnnotationBody,
    request: Request,
    session: SessionDep,
    access: Work,
) -> TaskOut:
    job = labeling.get(session, usecase_id, job_id)
    row = labeling.task(session, job, task_id)
    labeling.submit(job, row, access.principal.user_id, body.annotation)
    _audit(request, "labeling.submit", "labeling_task", row.id, job_id=job_id, status=row.status)
    return _task_out(usecase_id, row)


@router.post("/{job_id}/tasks/{task_id}/skip", response_model=TaskOut)
def skip_task(
    usecase_id: str, job_id: str, task_id: str, request: Request, session: SessionDep, access: Work
) -> TaskOut:
    job = labeling.get(session, usecase_id, job_id)
    row = labeling.task(session, job, task_id)
    labeling.skip(job, row, access.principal.user_id)
    _audit(request, "labeling.skip", "labeling_task", row.id, job_id=job_id)
    return _task_out(usecase_id, row)


@router.post("/{job_id}/reviews/next", response_model=TaskOut | None)
def next_review(
    usecase_id: str, job_id: str, request: Request, session: SessionDep, access: Work
) -> TaskOut | None:
    row = labeling.review_next(session, labeling.get(session, usecase_id, job_id), access.principal.user_id)
    if row is not None:
        _audit(request, "labeling.review_claim", "labeling_task", row.id, job_id=job_id)
    return _task_out(usecase_id, row) if row is not None else None


@router.post("/{job_id}/tasks/{task_id}/review", response_model=TaskOut)
def review_task(
    usecase_id: str,
    job_id: str,
    task_id: str,
    body: ReviewBody,
    request: Request,
    session: SessionDep,
    access: Work,
) -> TaskOut:
    job = labeling.get(session, usecase_id, job_id)
    row = labeling.task(session, job, task_id)
    labeling.review(job, row, access.principal.user_id, body.accept, body.comment)
    _audit(request, "labeling.review", "labeling_task", row.id, job_id=job_id, accept=body.accept)
    return _task_out(usecase_id, row)


@router.post("/{job_id}/complete", response_model=LabelingJobOut)
def complete_job(
    usecase_id: str,
    job_id: str,
    body: CompleteBody,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Write,
) -> LabelingJobOut:
    """Write the Ground Truth output manifest (and a dataset version where the portal has them)."""
    job = labeling.get(session, usecase_id, job_id)
    output = labeling_export.complete(session, portal, job, body.dataset_name, body.partial)
    _audit(request, "labeling.complete", "labeling_job", job.id, **output)
    return _job_out(session, job)
