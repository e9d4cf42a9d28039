"""Jobs (training, evaluation, compilation, packaging, publishing, labeling export), their logs and
live metrics; per-use-case signing keys; the component registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dda.core.db.types import utcnow
from dda.portal.db.base import ID_LENGTH, Base, new_id

BIGINT = BigInteger().with_variant(Integer, "sqlite")


class Job(Base):
    """One unit of work. The row is the truth: executors only carry its id."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_usecase_created", "usecase_id", "created_at"),
        Index("ix_jobs_status_queue", "status", "queue"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(32), default="default")
    name: Mapped[str] = mapped_column(String(128), default="")
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    current_step: Mapped[str] = mapped_column(String(128), default="")
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    error_hint: Mapped[str | None] = mapped_column(Text, default=None)
    parent_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None, index=True)
    retry_of: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    pipeline: Mapped[bool] = mapped_column(Boolean, default=False)  # continue the chain on success
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    timeout_s: Mapped[int] = mapped_column(Integer, default=6 * 3600)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    worker: Mapped[str] = mapped_column(String(128), default="")
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class JobEvent(Base):
    """A log line (kind 'log') or a live metric record (kind 'metric': epoch, loss, validation)."""

    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_job_seq", "job_id", "seq"),)

    seq: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # log | metric
    level: Mapped[str] = mapped_column(String(16), default="info")
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SigningKey(Base):
    """A use case's Ed25519 package-signing key; the private half Fernet-encrypted, never served.
    Rotation retires the active key (kept, so packages it signed stay verifiable)."""

    __tablename__ = "signing_keys"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(128))
    public_pem: Mapped[str] = mapped_column(Text)
    private_encrypted: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


class Component(Base):
    """The component registry (the seed's Greengrass components): a model component (model +
    target + signed package) or a station component (station software version)."""

    __tablename__ = "components"
    __table_args__ = (
        UniqueConstraint("usecase_id", "name", "version", name="uq_components_usecase_name_version"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # model | station
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(32))
    dependencies: Mapped[dict[str, Any]] = mapped_column(default=dict)  # name -> version range
    default_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config_schema: Mapped[dict[str, Any]] = mapped_column(default=dict)
    model_ref: Mapped[dict[str, Any]] = mapped_column(default=dict)  # model version / artifact
    package_key: Mapped[str | None] = mapped_column(String(512), default=None)
    package_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    signing_key_fingerprint: Mapped[str | None] = mapped_column(String(128), default=None)
    job_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
