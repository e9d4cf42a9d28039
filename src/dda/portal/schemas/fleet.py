"""Devices, enrollment tokens and deployments as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from dda.fleet_protocol import StationConfig
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


class QualityGate(Strict):
    """Bounds the canary wave must stay within, measured from the canary devices' heartbeats on
    the new model (after the soak) against their last heartbeats on the previous one. A bound
    left out is not checked. Failing any halts the rollout and rolls the canary back."""

    max_anomaly_rate: float | None = Field(default=None, ge=0, le=1)
    max_anomaly_rate_increase: float | None = Field(default=None, ge=0, le=1)  # absolute, e.g. 0.05
    max_p99_latency_ms: float | None = Field(default=None, gt=0)
    max_p99_latency_ratio: float | None = Field(default=None, gt=0)  # new p99 / previous p99
    max_devices_with_errors: int | None = Field(default=None, ge=0)  # beats with a last_error
    min_throughput_per_min: float | None = Field(default=None, ge=0)  # the canary must be working


class DeploymentCreate(Strict):
    name: Name
    target: DeploymentTarget
    packages: list[str] = Field(default_factory=list, max_length=10)  # package archive keys
    config: StationConfig | None = None  # a station configuration document (docs/fleet.md)
    quality_gate: QualityGate | None = None
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
    quality_gate: dict[str, Any] | None = None
    gate_report: dict[str, Any] | None = None
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
    review: str | None = None
    files: list[Any]
    uploaded_at: datetime


class ResultsToDataset(Strict):
    """Uploaded results to add to a dataset (a new version: the previous version's images plus
    these), labelled with the operator's review where there is one, else the station's verdict."""

    result_ids: list[str] = Field(min_length=1, max_length=1000)
    dataset: Name
    only_reviewed: bool = False  # leave out results nobody reviewed


class ResultsToDatasetOut(BaseModel):
    dataset_id: str
    version_id: str
    version_number: int
    added: int
    from_review: int  # of the added, how many took the operator's label
    image_count: int


class DeviceCommandCreate(Strict):
    kind: Literal["logs", "restart", "reboot", "list_files", "fetch_file", "update_config"]
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
