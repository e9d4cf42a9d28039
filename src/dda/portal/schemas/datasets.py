"""Datasets and their versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from dda.portal.schemas.common import Name, Strict


class DatasetCreate(Strict):
    name: Name
    description: str = Field(default="", max_length=2000)


class DatasetOut(BaseModel):
    id: str
    name: str
    description: str
    versions: int
    latest_version: int | None
    created_at: datetime


class VersionOut(BaseModel):
    id: str
    dataset_id: str
    number: int
    source: str
    label_format: str
    image_count: int
    classes: dict[str, Any]
    stats: dict[str, Any]
    split: dict[str, Any]
    report: dict[str, Any]
    manifest_key: str
    created_at: datetime


class ItemOut(BaseModel):
    position: int
    name: str
    sha256: str
    mask_sha256: str | None
    label: int
    class_name: str
    split: str
    boxes: list[dict[str, Any]]
    source_ref: str
