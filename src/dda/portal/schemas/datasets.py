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


class SplitIn(Strict):
    """Fractions of each class that go to train / val / test (they add up to 1), drawn with ``seed``."""

    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    train: float = Field(default=0.7, ge=0, le=1)
    val: float = Field(default=0.15, ge=0, le=1)
    test: float = Field(default=0.15, ge=0, le=1)


class FolderClassIn(Strict):
    class_name: Name
    folder: str = Field(max_length=512, description="a folder of the use case's data tree")


class VersionFromFolders(Strict):
    """Image classification from folders: one folder (with its sub-folders) per class; the first
    class is the normal one."""

    classes: list[FolderClassIn] = Field(min_length=2, max_length=100)
    split: SplitIn = Field(default_factory=SplitIn)


class VersionFromVersion(Strict):
    """The images and labels of an existing version (e.g. a labeling job's output), split anew."""

    version_id: str = Field(min_length=1, max_length=64)
    split: SplitIn = Field(default_factory=SplitIn)
