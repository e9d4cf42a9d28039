from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dda.station.plugins.outputs import OutputConfig
from dda.station.plugins.triggers import TriggerConfig
from dda.station.schemas.results import ResultOut
from dda.station.services.retention import StoragePolicy


class WorkflowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=100)
    source_id: int = Field(..., ge=1, le=2**63 - 1)
    model_name: str = Field(..., min_length=1, max_length=128)
    model_version: str = Field(..., min_length=1, max_length=64)
    triggers: list[TriggerConfig] = Field(default_factory=list, max_length=8)
    outputs: list[OutputConfig] = Field(default_factory=list, max_length=16)
    storage: StoragePolicy = Field(default_factory=lambda: StoragePolicy())


class WorkflowOut(BaseModel):
    id: int
    name: str
    source_id: int = Field(..., ge=1, le=2**63 - 1)
    model_name: str
    model_version: str
    triggers: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    state: str  # stopped | running | error
    error: str | None = None
    last_result: ResultOut | None = None
    threshold: float | None = None
    recipes: dict[str, Any] = Field(default_factory=dict)
    active_recipe: int | None = None
    revision: int = 1
    storage: StoragePolicy = Field(default_factory=lambda: StoragePolicy())
    created_at: datetime
    updated_at: datetime
