from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session

from dda.station.db.models import Capture, InferenceResult


@dataclass(frozen=True)
class ResultFilter:
    workflow_id: int | None = None
    prediction: str | None = None
    flagged: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    part_id: str | None = None
    serial: str | None = None
    lot: str | None = None


def _filtered(query: Select, f: ResultFilter) -> Select:  # type: ignore[type-arg]
    if f.workflow_id is not None:
        query = query.where(InferenceResult.workflow_id == f.workflow_id)
    if f.prediction is not None:
        query = query.where(InferenceResult.prediction == f.prediction)
    if f.flagged is not None:
        query = query.where(InferenceResult.flag_for_review.is_(f.flagged))
    if f.since is not None:
        query = query.where(InferenceResult.created_at >= f.since)
    if f.until is not None:
        query = query.where(InferenceResult.created_at < f.until)
    if f.part_id is not None:
        query = query.where(InferenceResult.part_id == f.part_id)
    if f.serial is not None:
        query = query.where(InferenceResult.serial == f.serial)
    if f.lot is not None:
        query = query.where(InferenceResult.lot == f.lot)
    return query


def page(session: Session, f: ResultFilter, limit: int, offset: int) -> tuple[list[InferenceResult], int]:
    total = session.scalar(_filtered(select(func.count()).select_from(InferenceResult), f)) or 0
    query = (
        _filtered(select(InferenceResult), f).order_by(InferenceResult.id.desc()).limit(limit).offset(offset)
    )
    return list(session.scalars(query)), int(total)


def all_matching(session: Session, f: ResultFilter, limit: int) -> list[InferenceResult]:
    return list(
        session.scalars(_filtered(select(InferenceResult), f).order_by(InferenceResult.id).limit(limit))
    )


def by_id(session: Session, result_id: int) -> InferenceResult | None:
    return session.get(InferenceResult, result_id)


def capture_by_id(session: Session, capture_id: str) -> Capture | None:
    return session.get(Capture, capture_id)


def counts_by(session: Session, column: object) -> dict[object, int]:
    rows = session.execute(select(column, func.count()).group_by(column))  # type: ignore[call-overload]
    return {key: int(count) for key, count in rows}


def flagged_count(session: Session) -> int:
    query = select(func.count()).select_from(InferenceResult).where(InferenceResult.flag_for_review.is_(True))
    return int(session.scalar(query) or 0)


def per_workflow(session: Session) -> list[tuple[int | None, str, str, int]]:
    query = select(
        InferenceResult.workflow_id, InferenceResult.workflow_name, InferenceResult.prediction, func.count()
    ).group_by(InferenceResult.workflow_id, InferenceResult.workflow_name, InferenceResult.prediction)
    return [(wid, name, pred, int(n)) for wid, name, pred, n in session.execute(query)]


def total_capture_bytes(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(Capture.size_bytes), 0))) or 0)


def oldest_deletable_captures(session: Session, limit: int) -> Sequence[Capture]:
    """Oldest captures first, except those with a result flagged for review and not yet exported."""
    protected = exists().where(
        and_(
            InferenceResult.capture_id == Capture.id,
            InferenceResult.flag_for_review.is_(True),
            InferenceResult.downloaded.is_(False),
        )
    )
    query = select(Capture).where(~protected).order_by(Capture.created_at, Capture.id).limit(limit)
    return list(session.scalars(query))


def expired_captures(session: Session, workflow_id: int, before: datetime, limit: int) -> Sequence[Capture]:
    """Captures of ``workflow_id``'s results older than ``before``, except flagged, unexported ones."""
    keep = and_(InferenceResult.flag_for_review.is_(True), InferenceResult.downloaded.is_(False))
    query = (
        select(Capture)
        .join(InferenceResult, InferenceResult.capture_id == Capture.id)
        .where(InferenceResult.workflow_id == workflow_id, Capture.created_at < before, ~keep)
        .order_by(Capture.created_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def capture_folders(session: Session) -> set[str]:
    return set(session.scalars(select(Capture.folder)))
