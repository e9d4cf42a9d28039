"""Devices, enrollment tokens and deployments as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from dda.portal.schemas.common import Name, Strict

Tag = str


class EnrollmentTokenCreate(Strict):
    device_name: Name | None = None
    group: str = Field(default="", max_length=63, pattern=r"^[A-Za-z0-9._ -]*$")
    tags: list[str] = Field(default_factory=list, max_length=20)
    ttl_s: int = Field(default=3600, ge=60, le=7 * 86_400)


class EnrollmentTokenOut(BaseModel):
    id: str
    token: str  # shown once
    expires_at: datetime
    command: str  # what to run on the station


class DeviceUpdate(Strict):
    name: Name | None = None
    group: str | None = Field(default=None, max_length=63, pattern=r"^[A-Za-z0-9._ -]*$")
    tags: list[str] | None = Field(default=None, max_length=20)


class DeviceOut(BaseModel):
    id: str
    name: str
    group: str
    tags: list[Any]
    status: str
    last_seen_at: datetime | None
    enrolled_at: datetime
    revoked_at: datetime | None
    facts: dict[str, Any]
    last_heartbeat: dict[str, Any]
    applied_etag: str | None


class HeartbeatPoint(BaseModel):
    at: datetime
    metrics: dict[str, Any]


class DeviceLogs(BaseModel):
    requested: bool
    lines: list[Any]
    received_at: datetime | None


class DeploymentTarget(Strict):
    kind: Literal["device", "group", "tag"]
    value: str = Field(min_length=1, max_length=128)


class DeploymentCreate(Strict):
    name: Name
    target: DeploymentTarget
    packages: list[str] = Field(default_factory=list, max_length=10)  # package archive keys
    config: dict[str, Any] | None = None
    waves: list[str] = Field(default_factory=lambda: ["100%"], min_length=1, max_length=10)
    soak_s: int = Field(default=0, ge=0, le=7 * 86_400)
    failure_threshold: int = Field(default=0, ge=0, le=100_000)


class DeploymentDeviceOut(BaseModel):
    device_id: str
    device_name: str
    wave: int
    phase: str
    progress_pct: float
    reason: str | None
    rolled_back_by_portal: bool
    updated_at: datetime


class DeploymentOut(BaseModel):
    id: str
    name: str
    target_kind: str
    target_value: str
    items: list[Any]
    config: dict[str, Any] | None
    waves: list[Any]
    released_wave: int
    soak_s: int
    failure_threshold: int
    status: str
    status_reason: str | None
    rollback_of: str | None
    created_at: datetime
    finished_at: datetime | None
    devices: list[DeploymentDeviceOut] = Field(default_factory=list)


class DeviceResultOut(BaseModel):
    id: str
    capture_id: str
    captured_at: datetime
    verdict: str
    label: str
    anomaly_score: float
    files: list[Any]
    uploaded_at: datetime


class DeviceCommandCreate(Strict):
    kind: Literal["logs", "restart", "reboot", "list_files", "fetch_file"]
    args: dict[str, Any] = Field(default_factory=dict)
    ttl_s: int = Field(default=600, ge=30, le=86_400)


class DeviceCommandOut(BaseModel):
    id: str
    kind: str
    args: dict[str, Any]
    status: str
    message: str | None
    result: dict[str, Any]
    file_key: str | None
    created_at: datetime
    expires_at: datetime
    delivered_at: datetime | None
    finished_at: datetime | None
