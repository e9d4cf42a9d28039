"""Labeling jobs: images of a store folder or dataset version become tasks; labelers (users with a
role in the use case) claim one task at a time, save drafts, submit or skip; an optional second
user reviews (accept / send back with a comment). Annotations are checked against the job's task
type and label set. The output (:mod:`.labeling_export`) is a Ground Truth manifest."""

from __future__ import annotations

import base64
import io
from collections import Counter, defaultdict
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dda.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dda.portal.context import Portal
from dda.portal.db import LabelingJob, LabelingTask, RoleAssignment, User
from dda.portal.repositories import data as data_repo
from dda.portal.schemas.labeling import Annotation, LabelingJobCreate
from dda.portal.services import data as data_service
from dda.portal.services import storage
from dda.portal.services import team as team_service
from dda.portal.services import usecases as usecases_service

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
MAX_TASKS = 100_000
OPEN = ("assigned", "sent_back")
DONE = ("accepted", "skipped")


def _members(session: Session, usecase_id: str, usernames: list[str]) -> list[str]:
    ids = []
    for name in dict.fromkeys(u.strip().lower() for u in usernames):
        row = session.scalar(
            select(User.id)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(User.username == name, RoleAssignment.usecase_id == usecase_id, User.disabled.is_(False))
        )
        if row is None:
            raise InvalidInput(
                f"{name!r} has no role in this use case", hint="add the user to the team first"
            )
        ids.append(row)
    return ids


def _source_images(
    session: Session, portal: Portal, usecase_id: str, job_id: str, body: LabelingJobCreate
) -> list[str]:
    usecase = usecases_service.get(session, usecase_id)
    store = storage.store_for(portal, "usecases", usecase, usecase.id)
    if body.source.store_prefix is not None:
        prefix = body.source.store_prefix.rstrip("/") + "/"
        keys = [k for k in store.list(prefix) if PurePosixPath(k).suffix.lower() in IMAGE_SUFFIXES]
    elif body.source.data_folder is not None:
        keys = _import_folder(session, usecase_id, job_id, body.source.data_folder, store)
    else:
        keys = _import_version(
            session, portal, usecase_id, job_id, body.source.dataset_version_id or "", store
        )
    if not keys:
        raise InvalidInput("the source holds no images", hint=f"images: {', '.join(sorted(IMAGE_SUFFIXES))}")
    if len(keys) > MAX_TASKS:
        raise InvalidInput(f"{len(keys)} images are more than one job takes", hint=f"at most {MAX_TASKS}")
    return sorted(keys)


def _import_version(
    session: Session, portal: Portal, usecase_id: str, job_id: str, version_id: str, store: Any
) -> list[str]:
    """A dataset version's images, copied under labels/<job>/source/ for the labelers."""
    import tempfile
    from pathlib import Path

    from dda.formats.loader import load_dataset
    from dda.portal.services import datasets

    with tempfile.TemporaryDirectory(prefix="dda-labeling-") as tmp:
        manifest = datasets.materialize_version(session, portal, usecase_id, version_id, Path(tmp))
        keys = []
        for index, sample in enumerate(load_dataset(manifest, progress=False).samples):
            key = f"labels/{job_id}/source/{index:06d}-{Path(sample.image_path).name}"
            store.put_file(key, sample.image_path)
            keys.append(key)
        return keys


def _import_folder(session: Session, usecase_id: str, job_id: str, folder: str, store: Any) -> list[str]:
    """A data folder's images (content-addressed in the store), copied under labels/<job>/source/
    with their names, so the output manifest names the files as the user uploaded them."""
    folder = data_service.clean_folder(folder)
    if not data_repo.folder_exists(session, usecase_id, folder):
        raise InvalidInput(f"no data folder {folder!r} in this use case", hint="upload images to it first")
    keys = []
    for index, row in enumerate(
        data_repo.entries_in(session, usecase_id, folder, after=None, limit=MAX_TASKS + 1)
    ):
        key = f"labels/{job_id}/source/{index:06d}-{row.name}"
        with store.open(data_service.object_key(row.sha256)) as stream:
            store.put_stream(key, stream)
        keys.append(key)
    return keys


def people(session: Session, usecase_id: str) -> list[tuple[User, str]]:
    """The use case's enabled members and their roles: who may label or review."""
    return [(u, a.role) for a, u in team_service.members(session, usecase_id) if not u.disabled]


def tasks_of(
    session: Session, job: LabelingJob, assignee_id: str | None, status: str | None, limit: int
) -> list[LabelingTask]:
    """The job's tasks in order, optionally only one labeler's or one status."""
    query = select(LabelingTask).where(LabelingTask.job_id == job.id)
    if assignee_id is not None:
        query = query.where(LabelingTask.assignee_id == assignee_id)
    if status is not None:
        query = query.where(LabelingTask.status == status)
    return list(session.scalars(query.order_by(LabelingTask.position).limit(limit)))


def create(
    session: Session, portal: Portal, usecase_id: str, body: LabelingJobCreate, creator: str
) -> LabelingJob:
    job = LabelingJob(
        usecase_id=usecase_id,
        name=body.name,
        task_type=body.task_type,
        labels=list(body.labels),
        instructions=body.instructions,
        source=body.source.model_dump(exclude_none=True),
        labelers=_members(session, usecase_id, body.labelers),
        reviewers=_members(session, usecase_id, body.reviewers),
        prelabel_model=body.prelabel_model or {},
        status="open",
        output={},
        created_by=creator,
    )
    session.add(job)
    session.flush()
    for position, key in enumerate(_source_images(session, portal, usecase_id, job.id, body)):
        session.add(
            LabelingTask(
                job_id=job.id,
                position=position,
                image_key=key,
                status="pending",
                annotation={},
                prelabel={},
                comment="",
            )
        )
    session.flush()
    if job.prelabel_model:
        from dda.portal.services.labeling_export import prelabel_tasks

        prelabel_tasks(session, portal, job)
    return job


def get(session: Session, usecase_id: str, job_id: str) -> LabelingJob:
    row = session.scalar(
        select(LabelingJob).where(LabelingJob.id == job_id, LabelingJob.usecase_id == usecase_id)
    )
    if row is None:
        raise NotFound(f"no labeling job {job_id!r} in this use case", hint="list GET .../labeling")
    return row


def list_jobs(session: Session, usecase_id: str, limit: int = 100) -> list[LabelingJob]:
    query = select(LabelingJob).where(LabelingJob.usecase_id == usecase_id)
    return list(session.scalars(query.order_by(LabelingJob.created_at.desc(), LabelingJob.id).limit(limit)))


def task(session: Session, job: LabelingJob, task_id: str) -> LabelingTask:
    row = session.scalar(
        select(LabelingTask).where(LabelingTask.id == task_id, LabelingTask.job_id == job.id)
    )
    if row is None:
        raise NotFound(f"no task {task_id!r} in this labeling job", hint="claim one with .../tasks/next")
    return row


def _open(job: LabelingJob) -> None:
    if job.status != "open":
        raise Conflict(f"the labeling job is {job.status}", hint="only open jobs take work")


def claim_next(session: Session, job: LabelingJob, user_id: str) -> LabelingTask | None:
    """The caller's unfinished task, else the next unassigned image (each image to one labeler)."""
    _open(job)
    if user_id not in job.labelers:
        raise PermissionDenied("you are not a labeler of this job", hint="ask the job's creator to add you")
    mine = session.scalar(
        select(LabelingTask)
        .where(
            LabelingTask.job_id == job.id, LabelingTask.assignee_id == user_id, LabelingTask.status.in_(OPEN)
        )
        .order_by(LabelingTask.position)
    )
    if mine is not None:
        return mine
    for candidate in session.scalars(
        select(LabelingTask.id)
        .where(LabelingTask.job_id == job.id, LabelingTask.status == "pending")
        .order_by(LabelingTask.position)
        .limit(20)
    ).all():
        taken = session.execute(
            update(LabelingTask)
            .where(LabelingTask.id == candidate, LabelingTask.status == "pending")
            .values(status="assigned", assignee_id=user_id)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            row = session.get(LabelingTask, candidate, populate_existing=True)
            assert row is not None
            if not row.annotation and row.prelabel:
                row.annotation = dict(row.prelabel)  # editable starting annotation
            return row
    return None


def _mine(job: LabelingJob, row: LabelingTask, user_id: str) -> None:
    _open(job)
    if row.assignee_id != user_id or row.status not in OPEN:
        raise Conflict("this task is not one you are working on", hint="claim a task with .../tasks/next")


def check_annotation(job: LabelingJob, annotation: Annotation) -> dict[str, Any]:
    """The annotation as stored, checked against the job's task type and labels."""
    kind = {"classification": "label", "bounding_box": "boxes", "polygon": "polygons", "mask": "mask_png"}[
        job.task_type
    ]
    given = {k for k, v in annotation.model_dump(exclude_none=True).items()}
    if given != {kind}:
        raise InvalidInput(
            f"a {job.task_type} annotation has exactly the field {kind!r}", hint="see the API docs"
        )
    labels = set(job.labels)
    used = [annotation.label] if annotation.label is not None else []
    used += [b.label for b in annotation.boxes or []] + [p.label for p in annotation.polygons or []]
    unknown = sorted({u for u in used if u not in labels})
    if unknown:
        raise InvalidInput(f"labels not in the job's label set: {unknown}", hint=f"use one of {job.labels}")
    if annotation.mask_png is not None:
        _check_mask(annotation.mask_png, len(job.labels))
    return annotation.model_dump(exclude_none=True)


def _check_mask(data: str, label_count: int) -> None:
    try:
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as image:
            image.load()
            fmt, mode, values = image.format, image.mode, np.asarray(image)
    except (ValueError, OSError) as exc:
        raise InvalidInput(
            "mask_png is not a base64 PNG", hint="encode the mask as PNG, then base64"
        ) from exc
    if fmt != "PNG" or mode not in ("L", "P"):
        raise InvalidInput("mask_png must be a single-channel PNG", hint="pixel value = label index + 1")
    if values.size and int(values.max()) > label_count:
        raise InvalidInput("mask_png has values beyond the label set", hint="0 background, 1..N labels")


def save_draft(job: LabelingJob, row: LabelingTask, user_id: str, annotation: Annotation) -> None:
    _mine(job, row, user_id)
    row.annotation = check_annotation(job, annotation)


def submit(job: LabelingJob, row: LabelingTask, user_id: str, annotation: Annotation) -> None:
    _mine(job, row, user_id)
    row.annotation = check_annotation(job, annotation)
    row.status = "submitted" if job.reviewers else "accepted"


def skip(job: LabelingJob, row: LabelingTask, user_id: str) -> None:
    _mine(job, row, user_id)
    row.status = "skipped"


def review_next(session: Session, job: LabelingJob, user_id: str) -> LabelingTask | None:
    """A submitted task of another labeler, reserved for the caller's review."""
    _open(job)
    if user_id not in job.reviewers:
        raise PermissionDenied("you are not a reviewer of this job", hint="ask the job's creator to add you")
    query = (
        select(LabelingTask)
        .where(
            LabelingTask.job_id == job.id,
            LabelingTask.status == "submitted",
            LabelingTask.assignee_id != user_id,
        )
        .where((LabelingTask.reviewer_id.is_(None)) | (LabelingTask.reviewer_id == user_id))
        .order_by(LabelingTask.position)
    )
    row = session.scalar(query)
    if row is not None:
        row.reviewer_id = user_id
    return row


def review(job: LabelingJob, row: LabelingTask, user_id: str, accept: bool, comment: str) -> None:
    _open(job)
    if user_id not in job.reviewers or row.assignee_id == user_id:
        raise PermissionDenied("you may not review this task", hint="a second user reviews each image")
    if row.status != "submitted" or row.reviewer_id not in (None, user_id):
        raise Conflict(f"the task is {row.status}", hint="review submitted tasks from .../reviews/next")
    row.reviewer_id = user_id
    row.status = "accepted" if accept else "sent_back"
    row.comment = comment


def progress(session: Session, job: LabelingJob) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    rows = session.execute(
        select(LabelingTask.assignee_id, LabelingTask.status).where(LabelingTask.job_id == job.id)
    ).all()
    counts = Counter(status for _, status in rows)
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for assignee, status in rows:
        if assignee:
            per[assignee][status] += 1
    return dict(counts), {user: dict(c) for user, c in per.items()}
