"""Labeling jobs (the seed's Ground Truth jobs, run by the portal's own labelers) and their tasks:
one task per image, claimed by one labeler, optionally reviewed by a second user."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dda.core.db.types import utcnow
from dda.portal.db.base import ID_LENGTH, Base, new_id


class LabelingJob(Base):
    __tablename__ = "labeling_jobs"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    task_type: Mapped[str] = mapped_column(String(32))  # classification|bounding_box|polygon|mask
    labels: Mapped[list[Any]] = mapped_column(default=list)
    instructions: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[dict[str, Any]] = mapped_column(default=dict)
    labelers: Mapped[list[Any]] = mapped_column(default=list)  # user ids
    reviewers: Mapped[list[Any]] = mapped_column(default=list)  # user ids; empty: no review step
    prelabel_model: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | completed | cancelled
    output: Mapped[dict[str, Any]] = mapped_column(default=dict)  # manifest key, dataset version
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class LabelingTask(Base):
    __tablename__ = "labeling_tasks"
    __table_args__ = (Index("ix_labeling_tasks_job_status", "job_id", "status"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(ForeignKey("labeling_jobs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    image_key: Mapped[str] = mapped_column(String(512))  # in the use case's store
    # pending -> assigned (draft) -> submitted -> accepted; skipped; review: submitted -> sent_back
    status: Mapped[str] = mapped_column(String(16), default="pending")
    assignee_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None, index=True)
    reviewer_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    annotation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prelabel: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comment: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
