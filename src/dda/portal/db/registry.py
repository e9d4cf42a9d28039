"""The model registry: models per use case, their versions (artifact, metrics, lineage, stage),
the audited history of stage changes, and the packages built from each version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from dda.core.db.types import utcnow
from dda.portal.db.base import ID_LENGTH, Base, new_id

STAGES = ("candidate", "staging", "production", "archived")


class RegisteredModel(Base):
    __tablename__ = "registered_models"
    __table_args__ = (UniqueConstraint("usecase_id", "name", name="uq_registered_models_usecase_name"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(Text, default="")
    model_type: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ModelVersion(Base):
    """One immutable artifact of a model; only its stage changes after registration."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
        Index("ix_model_versions_usecase_created", "usecase_id", "created_at"),
        # At most one production version per model, whatever the application does.
        Index(
            "uq_model_versions_one_production",
            "model_id",
            unique=True,
            sqlite_where=text("stage = 'production'"),
            postgresql_where=text("stage = 'production'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16), default="candidate")
    source: Mapped[str] = mapped_column(String(32))  # trained | upload | onnx_import | ...
    description: Mapped[str] = mapped_column(Text, default="")
    model_type: Mapped[str] = mapped_column(String(32))
    backbone: Mapped[str] = mapped_column(String(64), default="")
    artifact_key: Mapped[str] = mapped_column(String(512))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    artifact_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the artifact's config.json
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the artifact's metrics.json
    plots: Mapped[list[Any]] = mapped_column(default=list)  # plot names (PNG under plots_prefix)
    # dataset_version_id, training parameters, code version (dda version, git commit), job id ...
    lineage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    stage_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelStageChange(Base):
    """History of a version's stage (who, when, from, to, why); also mirrored in the audit log."""

    __tablename__ = "model_stage_changes"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(16), default=None)
    to_stage: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelPackage(Base):
    """A signed package built from a version for one target and precision."""

    __tablename__ = "model_packages"
    __table_args__ = (
        UniqueConstraint("version_id", "target", "precision", name="uq_model_packages_version_target"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), index=True)
    target: Mapped[str] = mapped_column(String(32))
    precision: Mapped[str] = mapped_column(String(16))
    package_key: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64))
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
