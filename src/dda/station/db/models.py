"""ORM models of the station database (SQLite in WAL mode; PostgreSQL works too).

JSON columns hold plugin configurations exactly as their pydantic config classes dump them;
services validate them on the way in and out, so a row never holds a config the code cannot read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from dda.core.db.types import NAMING_CONVENTION, UTCDateTime, utcnow


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="viewer")  # admin | operator | viewer
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped by a password reset, disable and logout: every token issued before is refused.
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiToken(Base):
    """A long-lived token for scripts and PLC gateways. Only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)  # None: until revoked

    user: Mapped[User] = relationship(back_populates="tokens")


class StationSetting(Base):
    """Admin-owned runtime settings (e.g. the outbound allow-list), one JSON value per key."""

    __tablename__ = "station_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ImageSource(Base):
    """A camera or other image input, with its plugin config and camera settings."""

    __tablename__ = "image_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    camera: Mapped[dict[str, Any]] = mapped_column(default=dict)  # exposure, gain, roi, pipeline
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Workflow(Base):
    """Source + pinned model version + triggers + outputs."""

    __tablename__ = "workflows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("image_sources.id", ondelete="RESTRICT"), index=True)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(64))
    triggers: Mapped[list[Any]] = mapped_column(default=list)
    outputs: Mapped[list[Any]] = mapped_column(default=list)
    state: Mapped[str] = mapped_column(String(16), default="stopped")  # desired state, restored at start
    # Decision settings, changed only through audited revisions (WorkflowRevision):
    threshold: Mapped[float | None] = mapped_column(Float, default=None)  # None: the model's own
    recipes: Mapped[dict[str, Any]] = mapped_column(default=dict)  # "<number>" -> model/threshold
    active_recipe: Mapped[int | None] = mapped_column(Integer, default=None)  # when the PLC sends none
    revision: Mapped[int] = mapped_column(Integer, default=1)
    storage: Mapped[dict[str, Any]] = mapped_column(default=dict)  # StoragePolicy: sampling, retention
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WorkflowRevision(Base):
    """One audited change of a workflow's decision settings (threshold, recipes, active recipe)."""

    __tablename__ = "workflow_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(32))  # threshold | recipes | restore | ...
    reason: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the settings from this revision on
    previous: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the settings it replaced


class Capture(Base):
    """One image taken from a source (or uploaded). Its files live in ``folder``."""

    __tablename__ = "captures"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("image_sources.id", ondelete="SET NULL"), index=True, default=None
    )
    capture_type: Mapped[str] = mapped_column(String(32))
    folder: Mapped[str] = mapped_column(String(255))  # relative to the results dir
    input_path: Mapped[str] = mapped_column(String(255))  # relative to the results dir
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)  # all files in folder, for the quota
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class InferenceResult(Base):
    """The reference's inference result fields plus per-stage latency."""

    __tablename__ = "inference_results"
    __table_args__ = (
        Index("ix_inference_results_workflow_created", "workflow_id", "created_at"),
        Index("ix_inference_results_prediction", "prediction"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    capture_id: Mapped[str] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"), index=True)
    capture_type: Mapped[str] = mapped_column(String(32))
    workflow_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL"), default=None
    )
    workflow_name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    prediction: Mapped[str] = mapped_column(String(16))  # normal | anomaly
    label: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    anomaly_score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)  # defect class -> percent of area
    mask_path: Mapped[str | None] = mapped_column(String(255), default=None)
    input_path: Mapped[str] = mapped_column(String(255))
    output_path: Mapped[str] = mapped_column(String(255))  # the overlay JPEG
    manifest_path: Mapped[str] = mapped_column(String(255))
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(64))
    flag_for_review: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    human_classification: Mapped[str | None] = mapped_column(String(16), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    downloaded: Mapped[bool] = mapped_column(Boolean, default=False)  # included in an export
    latency_ms: Mapped[dict[str, Any]] = mapped_column(default=dict)  # stage -> milliseconds
    # Traceability: the part (from the PLC, an MQTT/HTTP message) and what judged it.
    part_id: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    serial: Mapped[str | None] = mapped_column(String(128), default=None)
    lot: Mapped[str | None] = mapped_column(String(128), default=None)
    recipe: Mapped[int | None] = mapped_column(Integer, default=None)
    dataset_version: Mapped[str | None] = mapped_column(String(128), default=None)
    # Simple image statistics for the drift alarm.
    brightness: Mapped[float | None] = mapped_column(Float, default=None)
    sharpness: Mapped[float | None] = mapped_column(Float, default=None)
