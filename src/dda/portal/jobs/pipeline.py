"""The event chain (the seed's EventBridge rules): training succeeded -> compile for the use
case's targets -> package -> publish. Each step is a job whose parent is the step before; a
failed step stops the chain with its reason; retrying it (same parent, same parameters) resumes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dda.portal.db import Job, UseCase
from dda.portal.jobs import service
from dda.portal.jobs.models import JobType


def pipeline_options(usecase: UseCase, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Targets and precisions of the chain: the use case's settings unless the request names them."""
    settings = usecase.settings or {}
    targets = list(settings.get("auto_pipeline_targets") or ["x86_64-cpu"])
    precisions = ["fp32", "int8"] if settings.get("auto_pipeline_int8") else ["fp32"]
    options = {"targets": targets, "precisions": precisions}
    options.update({k: v for k, v in (overrides or {}).items() if v})
    return options


def _next_step(row: Job) -> tuple[JobType, dict[str, Any]] | None:
    result, params = row.result or {}, row.parameters or {}
    chain_options = params.get("pipeline") or {}
    if row.type == JobType.TRAINING.value:
        compile_params: dict[str, Any] = {
            "model": result["model"],
            "targets": chain_options.get("targets", ["x86_64-cpu"]),
            "precisions": chain_options.get("precisions", ["fp32"]),
            "calibration": params["dataset"],
        }
        return JobType.COMPILATION, compile_params
    if row.type == JobType.COMPILATION.value:
        return JobType.PACKAGING, {"model": result["model"], "exports": result["exports"]}
    if row.type == JobType.PACKAGING.value:
        return JobType.PUBLISHING, {"model": result["model"], "packages": result["packages"]}
    return None


def after_success(session: Session, row: Job) -> list[Job]:
    """The chain's next job for a succeeded pipeline step (queued in the same transaction)."""
    if not row.pipeline:
        return []
    step = _next_step(row)
    if step is None:
        return []
    job_type, params = step
    child = service.new_job(
        row.usecase_id,
        job_type,
        params,
        name=row.name,
        created_by=row.created_by,
        parent_id=row.id,
        pipeline=True,
        timeout_s=row.timeout_s,
    )
    session.add(child)
    session.flush()
    service.add_event(session, row.id, "log", f"pipeline: {job_type.value} job {child.id} queued")
    return [child]
