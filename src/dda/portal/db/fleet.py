"""Devices (stations), one-time enrollment tokens, heartbeats, deployments and per-device status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dda.core.db.types import utcnow
from dda.portal.db.base import ID_LENGTH, Base, new_id


class EnrollmentToken(Base):
    __tablename__ = "enrollment_tokens"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    device_name: Mapped[str | None] = mapped_column(String(63), default=None)
    group: Mapped[str] = mapped_column(String(63), default="")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    device_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("usecase_id", "name", name="uq_devices_usecase_name"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    group: Mapped[str] = mapped_column(String(63), default="", index=True)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    public_key_pem: Mapped[str] = mapped_column(Text)
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    last_heartbeat: Mapped[dict[str, Any]] = mapped_column(default=dict)
    applied_etag: Mapped[str | None] = mapped_column(String(64), default=None)
    logs_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    log_tail: Mapped[list[Any]] = mapped_column(default=list)
    log_tail_at: Mapped[datetime | None] = mapped_column(default=None)
    # The open history bucket {start, n, mean}: beats fold into it, one history row per bucket.
    history_bucket: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class DeviceHeartbeat(Base):
    """Heartbeat history for the device charts: one row per device and 5-minute bucket (the means
    of its beats), pruned to the newest rows per device."""

    __tablename__ = "device_heartbeats"
    __table_args__ = (Index("ix_device_heartbeats_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DeviceNonce(Base):
    """Nonces of signed device requests seen within the clock-skew window (replay protection)."""

    __tablename__ = "device_nonces"

    device_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[int] = mapped_column(BigInteger, index=True)  # unix seconds


class Deployment(Base):
    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    target_kind: Mapped[str] = mapped_column(String(16))  # device | group | tag
    target_value: Mapped[str] = mapped_column(String(128))
    # [{model_name, model_version, package_key, package_sha256, package_size}]
    items: Mapped[list[Any]] = mapped_column(default=list)
    config: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    waves: Mapped[list[Any]] = mapped_column(default=list)  # device counts per wave, e.g. [1, 3, 12]
    soak_s: Mapped[int] = mapped_column(Integer, default=0)
    failure_threshold: Mapped[int] = mapped_column(Integer, default=0)  # failed devices that halt
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|completed|failed|cancelled
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    released_wave: Mapped[int] = mapped_column(Integer, default=0)
    wave_done_at: Mapped[datetime | None] = mapped_column(default=None)
    rollback_of: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    # Bounds the canary must stay within before the rollout goes past it (QualityGate), and
    # what the gate measured when it decided.
    quality_gate: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    gate_report: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class DeploymentDevice(Base):
    __tablename__ = "deployment_devices"
    __table_args__ = (Index("ix_deployment_devices_device_created", "device_id", "created_at"),)

    deployment_id: Mapped[str] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    wave: Mapped[int] = mapped_column(Integer, default=0)
    phase: Mapped[str] = mapped_column(String(16), default="queued")
    progress_pct: Mapped[float] = mapped_column(default=0.0)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    superseded: Mapped[bool] = mapped_column(default=False)  # the portal rolled this device back
    # The device's anomaly rate and p99 on its previous model, from its last heartbeat before the
    # deployment (what the quality gate compares the canary against).
    baseline: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeviceResult(Base):
    """A result a station uploaded (the seed's InferenceUploader): its files live in the use case's
    store under results/{device}/{yyyy}/{mm}/{dd}/{capture}/; one row per capture, never two."""

    __tablename__ = "device_results"
    __table_args__ = (
        UniqueConstraint("device_id", "capture_id", name="uq_device_results_device_capture"),
        Index("ix_device_results_device_captured", "device_id", "captured_at"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    capture_id: Mapped[str] = mapped_column(String(64))
    captured_at: Mapped[datetime] = mapped_column()
    verdict: Mapped[str] = mapped_column(String(16), default="")
    label: Mapped[str] = mapped_column(String(64), default="")
    anomaly_score: Mapped[float] = mapped_column(default=0.0)
    review: Mapped[str | None] = mapped_column(String(16), default=None)  # the operator's verdict
    prefix: Mapped[str] = mapped_column(String(255))  # key prefix of its files in the use case store
    files: Mapped[list[Any]] = mapped_column(default=list)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeviceCommandRow(Base):
    """A remote operation queued for a device; delivered with its next heartbeat, signed."""

    __tablename__ = "device_commands"
    __table_args__ = (Index("ix_device_commands_device_status", "device_id", "status"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending|delivered|succeeded|failed|expired
    message: Mapped[str | None] = mapped_column(Text, default=None)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    file_key: Mapped[str | None] = mapped_column(String(512), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
