from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dda.station.services.trace import MAX_RECIPE, Recipe

Reason = Field("", max_length=2000, description="Why (kept in the audit trail)")


class ThresholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: float | None = Field(..., ge=-1e6, le=1e6, description="None: back to the model's own")
    reason: str = Reason


class CalibrationApplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    budget: float = Field(0.01, gt=0, lt=1, description="Largest share of good parts rejected")
    reason: str = Reason


class RecipesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recipes: dict[int, Recipe] = Field(default_factory=dict, max_length=256)
    reason: str = Reason


class ActiveRecipeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recipe: int | None = Field(..., ge=0, le=MAX_RECIPE, description="None: the workflow's own model")
    reason: str = Reason


class RestoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Reason


class RevisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    workflow_id: int
    revision: int
    created_at: datetime
    username: str
    action: str
    reason: str
    settings: dict[str, Any]
    previous: dict[str, Any]


class CalibrationOut(BaseModel):
    threshold: float
    budget: float
    false_reject_rate: float
    miss_rate: float | None
    good: int
    defects: int
    current_threshold: float | None
    enough_data: bool
    model_name: str
    model_version: str
    curve: list[dict[str, float | None]]


class CalibrationApplied(BaseModel):
    calibration: CalibrationOut
    revision: RevisionOut
