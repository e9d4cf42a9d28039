"""Queries on the data tree: objects by hash, folders and entries (keyset pages), quota counters.

Every query names the use case: an id of another tenant's entry finds nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dda.portal.db import DataEntry, DataFolder, DataObject, DatasetItem, UploadSession, UseCase


def insert_ignore(session: Session, table: Table, values: list[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING (SQLite and PostgreSQL); returns the rows inserted."""
    if not values:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    key = next(iter(table.primary_key.columns))
    # RETURNING counts what was inserted (a multi-row INSERT's rowcount is -1 on psycopg).
    result = session.execute(insert(table).values(values).on_conflict_do_nothing().returning(key))
    return len(result.all())


def get_object(session: Session, usecase_id: str, sha256: str) -> DataObject | None:
    return session.get(DataObject, (usecase_id, sha256))


def add_object(session: Session, row: dict[str, Any]) -> bool:
    """Insert an object row unless another request stored the same bytes first."""
    return insert_ignore(session, DataObject.__table__, [row]) == 1  # type: ignore[arg-type]


def reserve_bytes(session: Session, usecase_id: str, size: int, limit: int) -> bool:
    """Add ``size`` to the use case's usage if that stays within ``limit`` (one atomic UPDATE)."""
    result = session.execute(
        update(UseCase)
        .where(UseCase.id == usecase_id, UseCase.bytes_used + size <= limit)
        .values(bytes_used=UseCase.bytes_used + size)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def release_bytes(session: Session, usecase_id: str, size: int) -> None:
    session.execute(
        update(UseCase)
        .where(UseCase.id == usecase_id)
        .values(bytes_used=case((UseCase.bytes_used > size, UseCase.bytes_used - size), else_=0))
        .execution_options(synchronize_session=False)
    )


def ensure_folders(session: Session, usecase_id: str, folder: str) -> None:
    """Create ``folder`` and its ancestors (idempotent, safe against concurrent creators)."""
    if not folder:
        return
    parts = folder.split("/")
    rows = [
        {"usecase_id": usecase_id, "path": "/".join(parts[: i + 1]), "parent": "/".join(parts[:i]), "name": p}
        for i, p in enumerate(parts)
    ]
    insert_ignore(session, DataFolder.__table__, rows)  # type: ignore[arg-type]


def folder_exists(session: Session, usecase_id: str, folder: str) -> bool:
    return folder == "" or session.get(DataFolder, (usecase_id, folder)) is not None


def entry(session: Session, usecase_id: str, entry_id: str) -> DataEntry | None:
    return session.scalar(
        select(DataEntry).where(DataEntry.id == entry_id, DataEntry.usecase_id == usecase_id)
    )


def entry_at(session: Session, usecase_id: str, folder: str, name: str) -> DataEntry | None:
    return session.scalar(
        select(DataEntry).where(
            DataEntry.usecase_id == usecase_id, DataEntry.folder == folder, DataEntry.name == name
        )
    )


def entries_at(
    session: Session, usecase_id: str, paths: list[tuple[str, str]]
) -> dict[tuple[str, str], DataEntry]:
    """Entries by (folder, name), looked up folder by folder."""
    by_folder: dict[str, list[str]] = {}
    for folder, name in paths:
        by_folder.setdefault(folder, []).append(name)
    found: dict[tuple[str, str], DataEntry] = {}
    for folder, names in by_folder.items():
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            rows = session.scalars(
                select(DataEntry).where(
                    DataEntry.usecase_id == usecase_id, DataEntry.folder == folder, DataEntry.name.in_(chunk)
                )
            )
            for row in rows:
                found[(row.folder, row.name)] = row
    return found


def first_entry_with(
    session: Session, usecase_id: str, sha256: str, *, other_than: str | None = None
) -> DataEntry | None:
    query = select(DataEntry).where(DataEntry.usecase_id == usecase_id, DataEntry.sha256 == sha256)
    if other_than is not None:
        query = query.where(DataEntry.id != other_than)
    return session.scalar(query.order_by(DataEntry.created_at).limit(1))


def subfolders(
    session: Session, usecase_id: str, parent: str, *, after: str | None, limit: int
) -> list[DataFolder]:
    query = select(DataFolder).where(DataFolder.usecase_id == usecase_id, DataFolder.parent == parent)
    if after is not None:
        query = query.where(DataFolder.name > after)
    return list(session.scalars(query.order_by(DataFolder.name).limit(limit)))


def entries_in(session: Session, usecase_id: str, folder: str, *, after: str | None, limit: int) -> list[Any]:
    """A page of a folder's images by name: plain rows (id, folder, name, sha256, size,
    created_at, format, width, height), no ORM objects (twice as fast for a browse page)."""
    query = (
        select(
            DataEntry.id,
            DataEntry.folder,
            DataEntry.name,
            DataEntry.sha256,
            DataEntry.size,
            DataEntry.created_at,
            DataObject.format,
            DataObject.width,
            DataObject.height,
        )
        .join(
            DataObject,
            (DataObject.usecase_id == DataEntry.usecase_id) & (DataObject.sha256 == DataEntry.sha256),
        )
        .where(DataEntry.usecase_id == usecase_id, DataEntry.folder == folder)
    )
    if after is not None:
        query = query.where(DataEntry.name > after)
    return list(session.execute(query.order_by(DataEntry.name).limit(limit)).all())


def entries_under(session: Session, usecase_id: str, folder: str, *, limit: int) -> list[DataEntry]:
    """Entries in ``folder`` and every folder below it (for dataset building), at most ``limit``."""
    query = select(DataEntry).where(DataEntry.usecase_id == usecase_id)
    if folder:
        query = query.where(
            (DataEntry.folder == folder) | DataEntry.folder.startswith(folder + "/", autoescape=True)
        )
    return list(session.scalars(query.order_by(DataEntry.folder, DataEntry.name).limit(limit)))


def used_by_versions(session: Session, usecase_id: str, sha256: str) -> int:
    """How many dataset version items pin this hash (as image or mask)."""
    as_image = session.scalar(
        select(func.count())
        .select_from(DatasetItem)
        .where(DatasetItem.usecase_id == usecase_id, DatasetItem.sha256 == sha256)
    )
    as_mask = session.scalar(
        select(func.count())
        .select_from(DatasetItem)
        .where(DatasetItem.usecase_id == usecase_id, DatasetItem.mask_sha256 == sha256)
    )
    return int(as_image or 0) + int(as_mask or 0)


def entry_count_with(session: Session, usecase_id: str, sha256: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(DataEntry)
            .where(DataEntry.usecase_id == usecase_id, DataEntry.sha256 == sha256)
        )
        or 0
    )


def upload(session: Session, usecase_id: str, upload_id: str) -> UploadSession | None:
    return session.scalar(
        select(UploadSession).where(UploadSession.id == upload_id, UploadSession.usecase_id == usecase_id)
    )


def advance_upload(session: Session, upload_id: str, expected_offset: int, length: int) -> bool:
    """Move an upload's offset forward iff nobody else did meanwhile (optimistic)."""
    result = session.execute(
        update(UploadSession)
        .where(UploadSession.id == upload_id, UploadSession.offset == expected_offset)
        .values(offset=UploadSession.offset + length, chunks=UploadSession.chunks + 1)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def expired_uploads(session: Session, usecase_id: str, now: datetime, limit: int) -> list[UploadSession]:
    return list(
        session.scalars(
            select(UploadSession)
            .where(
                UploadSession.usecase_id == usecase_id,
                UploadSession.status == "open",
                UploadSession.expires_at < now,
            )
            .limit(limit)
        )
    )
