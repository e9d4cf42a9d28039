"""Data management: upload outcomes, browse pages, resumable uploads, imports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from dda.portal.schemas.common import Strict


class FileOutcomeOut(BaseModel):
    name: str
    status: Literal["stored", "duplicate", "exists", "rejected"]
    entry_id: str | None = None
    path: str | None = None
    sha256: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    duplicate_of: str | None = None
    code: str | None = None
    error: str | None = None
    hint: str | None = None


class BatchOut(BaseModel):
    """Per-file outcomes of an upload or import: the good files landed whatever the others did."""

    counts: dict[str, int]
    items: list[FileOutcomeOut]


class ImageOut(BaseModel):
    id: str
    name: str
    folder: str
    sha256: str
    size: int
    format: str
    width: int
    height: int
    created_at: datetime
    thumbnail_url: str


class FolderOut(BaseModel):
    name: str
    path: str


class BrowseOut(BaseModel):
    folder: str
    folders: list[FolderOut]
    images: list[ImageOut]
    next_cursor: str | None = None


class UploadCreate(Strict):
    folder: str = Field(default="", max_length=512)
    name: str = Field(min_length=1, max_length=255)
    size: int = Field(ge=1)


class UploadOut(BaseModel):
    id: str
    folder: str
    name: str
    size: int
    offset: int
    status: str
    chunk_size: int
    expires_at: datetime


class FolderImport(Strict):
    root: str = Field(min_length=1, max_length=63, description="an import root name from the settings")
    path: str = Field(default="", max_length=512, description="a sub-folder of the root")
    folder: str = Field(default="", max_length=512, description="where the images land in the use case")


class S3Import(Strict):
    """Either credentials for this one import (never stored) or an attached data location."""

    folder: str = Field(default="", max_length=512)
    prefix: str = Field(default="", max_length=512)
    data_location_id: str | None = Field(default=None, max_length=64)
    endpoint_url: str | None = Field(default=None, max_length=512, pattern=r"^https?://")
    bucket: str | None = Field(
        default=None, min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$"
    )
    region: str = Field(default="us-east-1", max_length=64)
    access_key_id: str | None = Field(default=None, max_length=255)
    secret_access_key: SecretStr | None = None
