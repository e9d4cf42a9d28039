"""Model registry API models: models, versions, stage changes, packages, compare, ONNX import."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from dda.portal.schemas.common import Strict

Stage = Literal["candidate", "staging", "production", "archived"]


class VersionOut(BaseModel):
    id: str
    model_id: str
    model_name: str
    version: int
    stage: str
    source: str
    description: str
    model_type: str
    backbone: str
    artifact_sha256: str
    artifact_bytes: int
    input_size: list[int] | None = None
    class_names: list[str] = Field(default_factory=list)
    threshold: float | None = None
    metrics: dict[str, Any]
    plots: list[str]
    lineage: dict[str, Any]
    created_by: str | None
    created_at: datetime
    stage_changed_at: datetime


class ModelOut(BaseModel):
    id: str
    name: str
    description: str
    model_type: str
    created_at: datetime
    updated_at: datetime
    latest_version: VersionOut | None = None
    production_version: VersionOut | None = None


class StageChangeOut(BaseModel):
    from_stage: str | None
    to_stage: str
    actor_id: str | None
    reason: str
    at: datetime


class PackageOut(BaseModel):
    id: str
    version_id: str
    target: str
    precision: str
    package_key: str
    sha256: str
    report: dict[str, Any]
    created_at: datetime


class VersionDetail(VersionOut):
    config: dict[str, Any]
    history: list[StageChangeOut]
    packages: list[PackageOut]


class StageRequest(Strict):
    stage: Stage
    reason: str = Field(default="", max_length=500)
    demote_to: Literal["staging", "archived"] = "staging"


class StageResult(BaseModel):
    version: VersionOut
    changed: list[dict[str, Any]]  # [{version_id, version, from, to}]


class MetricRow(BaseModel):
    metric: str
    a: float | None
    b: float | None
    delta: float | None


class CompareOut(BaseModel):
    a: VersionOut
    b: VersionOut
    metrics: list[MetricRow]
    config_differences: dict[str, dict[str, Any]]


class OnnxInspectOut(BaseModel):
    """What the graph says, the proposed spec (to confirm or correct) and what does not fit yet."""

    import_id: str
    sha256: str
    graph: dict[str, Any]
    spec: dict[str, Any]
    inferred: list[str]
    assumed: list[str]
    problems: list[str]


class OnnxImportRequest(Strict):
    import_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    name: str = Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = Field(default="", max_length=500)
    # dda.ml.onnx_import.OnnxImportSpec, validated there (unknown fields are refused)
    spec: dict[str, Any]
    dataset_version_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
