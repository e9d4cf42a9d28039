"""Jobs, job events, components and signing keys as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from dda.portal.db import Component, Job, JobEvent, SigningKey
from dda.portal.jobs.handlers.compilation import Precision, Target
from dda.portal.schemas.common import Strict

SubmittableType = Literal["training", "evaluation", "compilation", "packaging", "publishing"]


class JobCreate(Strict):
    type: SubmittableType
    parameters: dict[str, Any] = Field(default_factory=dict)
    name: str = Field(default="", max_length=128)
    timeout_s: int | None = Field(default=None, ge=1, le=7 * 86_400)


class TrainAndPublish(Strict):
    """One click: train on a dataset version, then compile, package and publish."""

    parameters: dict[str, Any]  # the training parameters (dataset, model_type, model_name, options)
    targets: list[Target] | None = Field(default=None, min_length=1, max_length=5)
    precisions: list[Precision] | None = Field(default=None, min_length=1, max_length=2)
    name: str = Field(default="", max_length=128)
    timeout_s: int | None = Field(default=None, ge=1, le=7 * 86_400)


class JobOut(BaseModel):
    id: str
    usecase_id: str
    type: str
    queue: str
    name: str
    parameters: dict[str, Any]
    status: str
    progress: float
    current_step: str
    result: dict[str, Any]
    error: str | None
    error_hint: str | None
    parent_id: str | None
    retry_of: str | None
    pipeline: bool
    attempt: int
    cancel_requested: bool
    worker: str
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None


def job_out(row: Job) -> JobOut:
    duration = (
        (row.finished_at - row.started_at).total_seconds() if row.finished_at and row.started_at else None
    )
    return JobOut(
        id=row.id,
        usecase_id=row.usecase_id,
        type=row.type,
        queue=row.queue,
        name=row.name,
        parameters=row.parameters,
        status=row.status,
        progress=row.progress,
        current_step=row.current_step,
        result=row.result,
        error=row.error,
        error_hint=row.error_hint,
        parent_id=row.parent_id,
        retry_of=row.retry_of,
        pipeline=row.pipeline,
        attempt=row.attempt,
        cancel_requested=row.cancel_requested,
        worker=row.worker,
        created_by=row.created_by,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_s=duration,
    )


class JobDetail(JobOut):
    chain: list[JobOut] = Field(default_factory=list)  # the jobs this one started (pipeline steps)


class JobEventOut(BaseModel):
    seq: int
    at: datetime
    kind: str
    level: str
    message: str
    data: dict[str, Any]


def event_out(row: JobEvent) -> JobEventOut:
    return JobEventOut(
        seq=row.seq, at=row.at, kind=row.kind, level=row.level, message=row.message, data=row.data
    )


class StationComponentCreate(Strict):
    name: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    platform: Literal["linux/amd64", "linux/arm64", "linux/amd64+cuda", "linux/arm64+jetson"]
    dependencies: dict[str, str] = Field(default_factory=dict, max_length=50)
    default_config: dict[str, Any] = Field(default_factory=dict)
    config_schema: dict[str, Any] = Field(default_factory=dict)


class ComponentOut(BaseModel):
    id: str
    kind: str
    name: str
    version: str
    platform: str
    dependencies: dict[str, Any]
    default_config: dict[str, Any]
    config_schema: dict[str, Any]
    model_ref: dict[str, Any]
    package_sha256: str | None
    signing_key_fingerprint: str | None
    job_id: str | None
    created_at: datetime


def component_out(row: Component) -> ComponentOut:
    return ComponentOut(
        id=row.id,
        kind=row.kind,
        name=row.name,
        version=row.version,
        platform=row.platform,
        dependencies=row.dependencies,
        default_config=row.default_config,
        config_schema=row.config_schema,
        model_ref=row.model_ref,
        package_sha256=row.package_sha256,
        signing_key_fingerprint=row.signing_key_fingerprint,
        job_id=row.job_id,
        created_at=row.created_at,
    )


class SigningKeyOut(BaseModel):
    fingerprint: str
    public_pem: str
    active: bool
    created_at: datetime
    retired_at: datetime | None


def key_out(row: SigningKey) -> SigningKeyOut:
    return SigningKeyOut(
        fingerprint=row.fingerprint,
        public_pem=row.public_pem,
        active=row.active,
        created_at=row.created_at,
        retired_at=row.retired_at,
    )
