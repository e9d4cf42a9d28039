"""Use cases (the tenants) and shared read-only data locations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dda.core.db.types import utcnow
from dda.portal.db.base import ID_LENGTH, Base, new_id


class StorageColumns:
    """Where a use case or data location keeps its objects: a prefix of the portal's default store,
    or a bucket/prefix on another S3 API server with its own credentials (secret encrypted at rest)."""

    storage_kind: Mapped[str] = mapped_column(String(16), default="default")  # default | s3
    storage_prefix: Mapped[str] = mapped_column(String(512), default="")
    s3_endpoint_url: Mapped[str | None] = mapped_column(String(512), default=None)
    s3_bucket: Mapped[str | None] = mapped_column(String(255), default=None)
    s3_region: Mapped[str | None] = mapped_column(String(64), default=None)
    s3_access_key_id: Mapped[str | None] = mapped_column(String(255), default=None)
    s3_secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)


class UseCase(StorageColumns, Base):
    __tablename__ = "usecases"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    cost_center: Mapped[str] = mapped_column(String(64), default="")
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    onboarding_status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|ready|failed
    onboarding_error: Mapped[str | None] = mapped_column(Text, default=None)
    onboarded_at: Mapped[datetime | None] = mapped_column(default=None)
    # default_model_type, auto_pipeline {enabled, targets}, result_retention_days, storage_quota_mb
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    bytes_used: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DataLocation(StorageColumns, Base):
    """The seed's Data Account: a read-only store of datasets that several use cases may attach."""

    __tablename__ = "data_locations"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|ready|failed
    status_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UseCaseDataLocation(Base):
    __tablename__ = "usecase_data_locations"

    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), primary_key=True)
    data_location_id: Mapped[str] = mapped_column(
        ForeignKey("data_locations.id", ondelete="CASCADE"), primary_key=True
    )
    read_only: Mapped[bool] = mapped_column(Boolean, default=True)
