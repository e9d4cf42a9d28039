"""Labeling jobs and tasks: create, annotate, review, progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from dda.portal.schemas.common import Name, Strict

TaskType = Literal["classification", "bounding_box", "polygon", "mask"]
Label = Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")


class LabelingSource(Strict):
    store_prefix: str | None = Field(default=None, max_length=512, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
    dataset_version_id: str | None = Field(default=None, max_length=64)
    data_folder: str | None = Field(default=None, max_length=512)  # a folder of the data management tree

    @model_validator(mode="after")
    def _one(self) -> LabelingSource:
        given = [v for v in (self.store_prefix, self.dataset_version_id, self.data_folder) if v is not None]
        if len(given) != 1:
            raise ValueError("name exactly one of store_prefix, dataset_version_id or data_folder")
        return self


class LabelingJobCreate(Strict):
    name: Name
    task_type: TaskType
    labels: list[str] = Field(min_length=1, max_length=100)
    instructions: str = Field(default="", max_length=20_000)
    source: LabelingSource
    labelers: list[str] = Field(min_length=1, max_length=200)  # usernames with a role in the use case
    reviewers: list[str] = Field(default_factory=list, max_length=200)  # empty: no review step
    prelabel_model: dict[str, Any] | None = None  # a model reference (registry version or artifact key)

    @model_validator(mode="after")
    def _labels(self) -> LabelingJobCreate:
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be distinct")
        if self.task_type == "classification" and len(self.labels) < 2:
            raise ValueError("classification needs at least two labels; the first is the normal class")
        return self


class Box(Strict):
    label: str = Field(max_length=63)
    left: float = Field(ge=0)
    top: float = Field(ge=0)
    width: float = Field(gt=0)
    height: float = Field(gt=0)


class Polygon(Strict):
    label: str = Field(max_length=63)
    points: list[tuple[float, float]] = Field(min_length=3, max_length=10_000)


class Annotation(Strict):
    """One of: ``label`` (classification), ``boxes``, ``polygons``, ``mask_png`` (base64 PNG whose
    pixel values are 1-based label indices, 0 background)."""

    label: str | None = Field(default=None, max_length=63)
    boxes: list[Box] | None = Field(default=None, max_length=1000)
    polygons: list[Polygon] | None = Field(default=None, max_length=1000)
    mask_png: str | None = Field(default=None, max_length=20_000_000)


class AnnotationBody(Strict):
    annotation: Annotation


class ReviewBody(Strict):
    accept: bool
    comment: str = Field(default="", max_length=4000)


class CompleteBody(Strict):
    dataset_name: Name | None = None  # default: the job's name
    partial: bool = False  # complete with the unfinished tasks left out


class LabelingJobOut(BaseModel):
    id: str
    name: str
    task_type: str
    labels: list[str]
    instructions: str
    source: dict[str, Any]
    labelers: list[str]
    reviewers: list[str]
    status: str
    output: dict[str, Any]
    created_at: datetime
    completed_at: datetime | None
    counts: dict[str, int] = Field(default_factory=dict)
    per_labeler: dict[str, dict[str, int]] = Field(default_factory=dict)


class TaskOut(BaseModel):
    id: str
    job_id: str
    position: int
    status: str
    image_url: str
    annotation: dict[str, Any]
    prelabel: dict[str, Any]
    comment: str
    assignee_id: str | None
    reviewer_id: str | None
    updated_at: datetime


class LabelerOut(BaseModel):
    """A team member as the labeling pages show them (labelers, reviewers, progress by name)."""

    user_id: str
    username: str
    display_name: str | None
    role: str
