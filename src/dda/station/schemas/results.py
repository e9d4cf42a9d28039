from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

MAX_DB_INT = 2**63 - 1


class ResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    capture_id: str
    capture_type: str
    workflow_id: int | None
    workflow_name: str
    created_at: datetime
    prediction: str
    label: str
    confidence: float
    anomaly_score: float
    threshold: float
    labels: dict[str, Any]
    mask_path: str | None
    input_path: str
    output_path: str
    manifest_path: str
    model_name: str
    model_version: str
    flag_for_review: bool
    human_classification: str | None
    note: str | None
    downloaded: bool
    latency_ms: dict[str, Any]
    part_id: str | None = None
    serial: str | None = None
    lot: str | None = None
    recipe: int | None = None
    dataset_version: str | None = None
    brightness: float | None = None
    sharpness: float | None = None
    # Short-lived signed URLs of this result's images (kind -> URL), usable in <img src>.
    image_urls: dict[str, str] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def has_mask(self) -> bool:
        return self.mask_path is not None


class ResultPage(BaseModel):
    items: list[ResultOut]
    total: int


class ResultReview(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flag_for_review: bool | None = None
    human_classification: Literal["normal", "anomaly"] | None = None
    note: str | None = Field(None, max_length=4000)


class ResultQuery(BaseModel):
    """Filters shared by the list and the export."""

    model_config = ConfigDict(extra="forbid")
    workflow_id: int | None = Field(None, ge=0, le=MAX_DB_INT)
    prediction: Literal["normal", "anomaly"] | None = None
    flagged: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    part_id: str | None = Field(None, min_length=1, max_length=128)
    serial: str | None = Field(None, min_length=1, max_length=128)
    lot: str | None = Field(None, min_length=1, max_length=128)
    limit: int = Field(50, ge=1, le=10_000)
    offset: int = Field(0, ge=0, le=MAX_DB_INT)
