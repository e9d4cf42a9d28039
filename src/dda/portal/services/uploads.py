"""Uploads: batches of files (images and zip/tar archives of images) and resumable uploads.

A batch never fails as a whole for one bad file: each file (and each image inside an archive)
gets its own outcome. Archives are unpacked by :func:`dda.core.safe_archive.extract_archive`
(traversal, links out, bombs and oversize entries refused) into a private temporary folder.

Resumable uploads (tus-style): ``create`` -> ``PATCH`` chunks at the current offset -> ``finish``.
Chunks are kept as objects ``uploads/<id>/<offset>`` in the use case's store and the offset in the
database, so any API process can take the next chunk and a cut connection resumes at the offset.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.orm import Session

from dda.core.errors import Conflict, DDAError, InvalidInput, NotFound
from dda.core.safe_archive import extract_archive
from dda.portal.api.errors import PayloadTooLarge, QuotaExceeded
from dda.portal.context import Portal
from dda.portal.db import UploadSession, UseCase
from dda.portal.repositories import data as data_repo
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services.data import (
    MB,
    Ingestor,
    Outcome,
    clean_folder,
    clean_name,
    quota_bytes,
    rejected,
    usecase_store,
)

MAX_ARCHIVE_ENTRIES = 20_000
MAX_INFLATION = 100
MIN_INFLATED_LIMIT = 16 * MB
UPLOAD_TTL = timedelta(days=2)
_SKIPPED_PARTS = ("__MACOSX",)


@dataclass
class BatchResult:
    items: list[Outcome] = field(default_factory=list)
    quota_hit: bool = False

    def counts(self) -> dict[str, int]:
        counts = {"stored": 0, "duplicate": 0, "exists": 0, "rejected": 0}
        for item in self.items:
            counts[item.status] = counts.get(item.status, 0) + 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "items": [i.as_dict() for i in self.items]}


def temp_dir(portal: Portal) -> Path:
    """A private scratch folder under the portal's data dir (removed by the caller)."""
    root = portal.settings.portal_dir / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="upload-", dir=root))


def is_archive(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(520)
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06") or head[:2] == b"\x1f\x8b" or head[257:262] == b"ustar"


def ingest_path(
    ingestor: Ingestor, path: Path, folder: str, name: str, result: BatchResult, cap: int
) -> None:
    """One received file: an archive of images or a single image."""
    if not is_archive(path):
        result.items.append(ingestor.add_file(path, folder, name))
        return
    dest = path.parent / f"{path.name}.d"
    # Images hardly compress; an archive that inflates far beyond its size is a bomb.
    limit = min(cap, max(MAX_INFLATION * path.stat().st_size, MIN_INFLATED_LIMIT))
    try:
        files = extract_archive(
            path, dest, max_entries=MAX_ARCHIVE_ENTRIES, max_total_bytes=limit, max_file_bytes=limit
        )
    except DDAError as exc:
        result.items.append(rejected(name, exc))
        return
    try:
        for file in files:
            relative = PurePosixPath(file.relative_to(dest).as_posix())
            if file.is_symlink() or not file.is_file() or _skipped(relative):
                continue
            label = f"{name}:{relative}"
            try:
                sub = clean_folder("/".join(p for p in (folder, *relative.parent.parts) if p))
            except DDAError as exc:
                result.items.append(rejected(label, exc))
                continue
            outcome = ingestor.add_file(file, sub, relative.name)
            outcome.name = label
            result.items.append(outcome)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def _skipped(relative: PurePosixPath) -> bool:
    return any(part in _SKIPPED_PARTS for part in relative.parts) or relative.name.startswith(".")


def ingest_files(
    portal: Portal, usecase_id: str, actor_id: str | None, folder: str, files: list[tuple[str, Path]]
) -> BatchResult:
    """Land every good file of a batch; ``files`` are (client name, local temporary path)."""
    ingestor = Ingestor(portal, usecase_id, actor_id)
    result = BatchResult()
    cap = portal.settings.portal.max_upload_mb * MB
    for name, path in files:
        ingest_path(ingestor, path, folder, name, result, cap)
    result.quota_hit = ingestor.quota_hit
    return result


# --------------------------------------------------------------------------- resumable uploads


def part_key(upload_id: str, offset: int) -> str:
    return f"uploads/{upload_id}/{offset:016d}"


def create(
    session: Session,
    portal: Portal,
    usecase: UseCase,
    folder: str,
    name: str,
    size: int,
    actor_id: str | None,
) -> UploadSession:
    folder, name = clean_folder(folder), clean_name(name)
    limit = portal.settings.portal.max_resumable_upload_mb * MB
    if size > limit:
        raise PayloadTooLarge(
            f"the file is {size // MB} MB; resumable uploads take at most {limit // MB} MB",
            hint="split the data into several archives",
        )
    if usecase.bytes_used + size > quota_bytes(usecase):
        raise QuotaExceeded(
            "the file would exceed the use case's storage quota",
            hint="delete unused images or ask a UseCaseAdmin to raise storage_quota_mb",
        )
    purge_expired(session, portal, usecase)
    row = UploadSession(
        usecase_id=usecase.id,
        folder=folder,
        name=name,
        total_size=size,
        created_by=actor_id,
        expires_at=datetime.now(UTC) + UPLOAD_TTL,
    )
    session.add(row)
    session.flush()
    return row


def purge_expired(session: Session, portal: Portal, usecase: UseCase, limit: int = 20) -> int:
    """Drop the chunks of a few abandoned (expired) uploads of the use case; returns how many."""
    rows = data_repo.expired_uploads(session, usecase.id, datetime.now(UTC), limit)
    if rows:
        store = usecase_store(portal, usecase)
        for row in rows:
            for key in store.list(f"uploads/{row.id}/"):
                store.delete(key)
            row.status = "expired"
    return len(rows)


def open_upload(session: Session, usecase_id: str, upload_id: str) -> UploadSession:
    row = data_repo.upload(session, usecase_id, upload_id)
    if row is None:
        raise NotFound(
            f"no upload {upload_id!r} in this use case", hint="create one with POST .../data/uploads"
        )
    if row.status != "open" or row.expires_at < datetime.now(UTC):
        raise Conflict(
            f"upload {upload_id!r} is {row.status if row.status != 'open' else 'expired'}",
            hint="start a new upload",
        )
    return row


def append(portal: Portal, usecase_id: str, upload_id: str, offset: int, chunk: Path, length: int) -> int:
    """Store one chunk at ``offset`` (it must be the upload's current offset); returns the new offset."""
    with portal.session() as session:
        row = open_upload(session, usecase_id, upload_id)
        if offset != row.offset:
            raise Conflict(
                f"Upload-Offset {offset} does not match the upload's offset {row.offset}",
                hint="ask for the current offset (HEAD) and send the rest from there",
            )
        if length == 0 or offset + length > row.total_size:
            raise InvalidInput(
                f"a chunk of {length} bytes at {offset} does not fit the declared size {row.total_size}",
                hint="send non-empty chunks that end at the declared size",
            )
        usecase = usecases_repo.by_id(session, usecase_id)
        assert usecase is not None

        usecase_store(portal, usecase).put_file(part_key(upload_id, offset), chunk)
        if not data_repo.advance_upload(session, upload_id, offset, length):
            raise Conflict(
                "another chunk was written at this offset meanwhile", hint="HEAD the upload and resume"
            )
        return offset + length


def finish(portal: Portal, usecase_id: str, upload_id: str, actor_id: str | None) -> BatchResult:
    """Join the chunks and land the file (or the images of the archive) like a batch upload."""

    with portal.session() as session:
        row = open_upload(session, usecase_id, upload_id)
        if row.offset != row.total_size:
            raise Conflict(
                f"the upload has {row.offset} of {row.total_size} bytes",
                hint="send the remaining chunks first",
            )
        usecase = usecases_repo.by_id(session, usecase_id)
        assert usecase is not None
        store = usecase_store(portal, usecase)
        folder, name, total = row.folder, row.name, row.total_size
    work = temp_dir(portal)
    try:
        joined = work / "joined"
        parts = store.list(f"uploads/{upload_id}/")
        _join(store, parts, joined, total)
        ingestor = Ingestor(portal, usecase_id, actor_id)
        result = BatchResult()
        ingest_path(
            ingestor, joined, folder, name, result, portal.settings.portal.max_resumable_upload_mb * MB
        )
        result.quota_hit = ingestor.quota_hit
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _discard(portal, usecase_id, upload_id, parts, status="done")
    return result


def _join(store: Any, parts: list[str], joined: Path, total: int) -> None:
    expected = 0
    with joined.open("wb") as out:
        for key in parts:
            if int(key.rsplit("/", 1)[-1]) != expected:
                raise Conflict("the stored chunks do not line up", hint="start a new upload")
            with store.open(key) as stream:
                while chunk := stream.read(MB):
                    out.write(chunk)
                    expected += len(chunk)
    if expected != total:
        raise Conflict("the stored chunks do not add up to the declared size", hint="start a new upload")


def _discard(portal: Portal, usecase_id: str, upload_id: str, parts: list[str], *, status: str) -> None:

    with portal.session() as session:
        row = data_repo.upload(session, usecase_id, upload_id)
        usecase = usecases_repo.by_id(session, usecase_id)
        if row is None or usecase is None:
            return
        store = usecase_store(portal, usecase)
        for key in parts or store.list(f"uploads/{upload_id}/"):
            store.delete(key)
        row.status = status


def abort(portal: Portal, usecase_id: str, upload_id: str) -> None:
    with portal.session() as session:
        open_upload(session, usecase_id, upload_id)
    _discard(portal, usecase_id, upload_id, [], status="aborted")
