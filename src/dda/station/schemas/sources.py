from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dda.station.plugins.processing import CameraSettings
from dda.station.plugins.sources import SourceConfig


class ImageSourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=100)
    config: SourceConfig
    camera: CameraSettings = Field(default_factory=CameraSettings)


class ImageSourceOut(BaseModel):
    id: int
    name: str
    type: str
    config: dict[str, Any]
    camera: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class CaptureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    source_id: int | None
    capture_type: str
    width: int
    height: int
    created_at: datetime
    image_url: str
