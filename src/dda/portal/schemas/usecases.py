"""Use cases, their settings and storage locations, and shared data locations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from dda.core.errors import InvalidInput
from dda.core.storage.keys import validate_key
from dda.portal.schemas.common import Name, Strict

Target = Literal["x86_64-cpu", "arm64-cpu", "openvino", "jetson", "x86_64-cuda"]


class S3Location(Strict):
    """Another S3 API bucket/prefix with its own credentials (the secret is stored encrypted)."""

    endpoint_url: str | None = Field(default=None, max_length=512, pattern=r"^https?://")
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$")
    prefix: str = Field(default="", max_length=512)
    region: str = Field(default="us-east-1", max_length=64)
    access_key_id: str | None = Field(default=None, max_length=255)
    secret_access_key: SecretStr | None = Field(default=None)

    @field_validator("prefix")
    @classmethod
    def _safe_prefix(cls, value: str) -> str:
        """The prefix becomes the root of every key: it must be a key by core's rules itself."""
        stripped = value.strip("/")
        if stripped:
            try:
                validate_key(stripped)
            except InvalidInput as exc:
                raise ValueError(exc.message) from exc
        return stripped


def _default_targets() -> list[Target]:
    return ["x86_64-cpu"]


class UseCaseSettings(Strict):
    default_model_type: Literal["classification", "segmentation", "anomaly"] = "classification"
    auto_pipeline: bool = False
    auto_pipeline_targets: list[Target] = Field(default_factory=_default_targets, max_length=5)
    auto_pipeline_int8: bool = False
    result_retention_days: int = Field(default=90, ge=1, le=3650)
    storage_quota_mb: int = Field(default=50_000, ge=1, le=100_000_000)


class UseCaseSettingsPatch(Strict):
    """A partial change of a use case's settings (fields left out keep their value)."""

    default_model_type: Literal["classification", "segmentation", "anomaly"] | None = None
    auto_pipeline: bool | None = None
    auto_pipeline_targets: list[Target] | None = Field(default=None, max_length=5)
    auto_pipeline_int8: bool | None = None
    result_retention_days: int | None = Field(default=None, ge=1, le=3650)
    storage_quota_mb: int | None = Field(default=None, ge=1, le=100_000_000)


class StorageChange(Strict):
    """Move a use case that is not onboarded yet (pending or failed) to another location."""

    s3: S3Location | None = None  # None: a prefix of the portal's default store


class UseCaseCreate(Strict):
    name: Name
    description: str = Field(default="", max_length=2000)
    cost_center: str = Field(default="", max_length=64)
    owner_username: str | None = Field(default=None, max_length=64)
    s3: S3Location | None = None  # None: a prefix of the portal's default store
    settings: UseCaseSettings = Field(default_factory=UseCaseSettings)


class UseCaseUpdate(Strict):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=2000)
    cost_center: str | None = Field(default=None, max_length=64)
    settings: UseCaseSettings | None = None


class UseCaseOut(BaseModel):
    id: str
    name: str
    description: str
    cost_center: str
    owner_id: str | None
    storage: str  # a display form; never credentials
    onboarding_status: str
    onboarding_error: str | None
    settings: dict[str, Any]
    bytes_used: int
    created_at: datetime
    my_role: str | None = None


class DataLocationCreate(Strict):
    name: Name
    description: str = Field(default="", max_length=2000)
    s3: S3Location | None = None  # None: a prefix of the portal's default store


class DataLocationUpdate(Strict):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=2000)
    s3: S3Location | None = None  # replaces the location (and its credentials) when given


class DataLocationOut(BaseModel):
    id: str
    name: str
    description: str
    storage: str  # a display form; never credentials
    status: str
    status_error: str | None
    created_at: datetime
    read_only: bool = True
