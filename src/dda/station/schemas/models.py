from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ModelUrlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(..., min_length=8, max_length=2048)
    allow_private: bool = Field(False, description="Allow a URL on the local network (loopback/private)")


class ModelOut(BaseModel):
    name: str
    version: str
    model_type: str
    labels: list[str]
    mask_labels: list[str]
    threshold: float
    target: str
    format: str
    created_at: datetime | None
    installed_at: datetime | None
    size_bytes: int
    loaded: bool
    status: str  # loaded | installed
    pinned_by: list[str]
    metrics: dict[str, Any] = Field(default_factory=dict)
