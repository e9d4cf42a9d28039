"""Queries on datasets, their versions and version items (always within one use case)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dda.portal.db import DatasetItem, DatasetRow, DatasetVersion


def dataset(session: Session, usecase_id: str, dataset_id: str) -> DatasetRow | None:
    return session.scalar(
        select(DatasetRow).where(DatasetRow.id == dataset_id, DatasetRow.usecase_id == usecase_id)
    )


def dataset_by_name(session: Session, usecase_id: str, name: str) -> DatasetRow | None:
    return session.scalar(
        select(DatasetRow).where(DatasetRow.usecase_id == usecase_id, DatasetRow.name == name)
    )


def datasets(session: Session, usecase_id: str, *, after: str | None, limit: int) -> list[DatasetRow]:
    query = select(DatasetRow).where(DatasetRow.usecase_id == usecase_id)
    if after is not None:
        query = query.where(DatasetRow.name > after)
    return list(session.scalars(query.order_by(DatasetRow.name).limit(limit)))


def version(session: Session, usecase_id: str, version_id: str) -> DatasetVersion | None:
    return session.scalar(
        select(DatasetVersion).where(DatasetVersion.id == version_id, DatasetVersion.usecase_id == usecase_id)
    )


def versions(session: Session, dataset_id: str, *, before: int | None, limit: int) -> list[DatasetVersion]:
    """Newest first."""
    query = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
    if before is not None:
        query = query.where(DatasetVersion.number < before)
    return list(session.scalars(query.order_by(DatasetVersion.number.desc()).limit(limit)))


def latest_number(session: Session, dataset_id: str) -> int:
    value = session.scalar(
        select(func.max(DatasetVersion.number)).where(DatasetVersion.dataset_id == dataset_id)
    )
    return int(value or 0)


def version_count(session: Session, dataset_id: str) -> int:
    value = session.scalar(
        select(func.count()).select_from(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
    )
    return int(value or 0)


def items(
    session: Session,
    version_id: str,
    *,
    after: int | None = None,
    limit: int | None = None,
    split: str | None = None,
) -> list[DatasetItem]:
    query = select(DatasetItem).where(DatasetItem.version_id == version_id)
    if split is not None:
        query = query.where(DatasetItem.split == split)
    if after is not None:
        query = query.where(DatasetItem.position > after)
    query = query.order_by(DatasetItem.position)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))
