"""Queueing jobs: parameters checked by the handler's model, the row written, the executor told
once the transaction commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dda.core.errors import NotFound
from dda.portal.context import Portal
from dda.portal.db import Job
from dda.portal.jobs import service
from dda.portal.jobs.executors import dispatch_after_commit
from dda.portal.jobs.handlers import check_parameters
from dda.portal.jobs.models import JobType
from dda.portal.jobs.pipeline import pipeline_options
from dda.portal.repositories import usecases as usecases_repo


def submit(
    session: Session,
    portal: Portal,
    usecase_id: str,
    job_type: JobType,
    parameters: dict[str, Any],
    *,
    created_by: str | None,
    name: str = "",
    pipeline: bool = False,
    timeout_s: int | None = None,
) -> Job:
    checked = check_parameters(job_type, parameters)
    row = service.new_job(
        usecase_id,
        job_type,
        checked,
        name=name or job_type.value,
        created_by=created_by,
        pipeline=pipeline,
        timeout_s=timeout_s or portal.settings.portal.job_timeout_s,
    )
    session.add(row)
    session.flush()
    service.add_event(session, row.id, "log", f"{job_type.value} job queued on {row.queue}")
    dispatch_after_commit(session, portal.settings, [(row.id, row.queue)])
    return row


def training(
    session: Session,
    portal: Portal,
    usecase_id: str,
    parameters: dict[str, Any],
    *,
    created_by: str | None,
    publish: bool = False,
    chain: dict[str, Any] | None = None,
    name: str = "",
    timeout_s: int | None = None,
) -> Job:
    """A training job; with ``publish`` (one-click "train and publish") or the use case's
    auto_pipeline setting on, its success starts compile -> package -> publish."""
    usecase = usecases_repo.by_id(session, usecase_id)
    if usecase is None:
        raise NotFound(f"no use case {usecase_id!r}", hint="pick one from GET /api/v1/usecases")
    automatic = publish or bool((usecase.settings or {}).get("auto_pipeline"))
    params = dict(parameters)
    if automatic:
        params["pipeline"] = pipeline_options(usecase, chain)
    return submit(
        session,
        portal,
        usecase_id,
        JobType.TRAINING,
        params,
        created_by=created_by,
        name=name or f"train {params.get('model_name', 'model')}",
        pipeline=automatic,
        timeout_s=timeout_s,
    )
