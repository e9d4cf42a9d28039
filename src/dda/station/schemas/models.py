from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ModelUrlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        ...,
        min_length=8,
        max_length=2048,
        description="http(s) URL of the package; hosts on the local network only when an admin has "
        "put them on the outbound allow-list (GET/PUT /api/v1/settings)",
    )


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
    precision: str = "FP32"  # FP32 | INT8 (quantized)
    mask_colors: dict[str, str] = Field(default_factory=dict)  # mask class -> "#rrggbb" in mask images
