"""Data management: the use case's folder tree of named images pointing at content-addressed objects.

Every file is checked by :mod:`dda.core.safe_image` (allowed format, pixel limit from the header,
a full decode so truncated files are caught) before it lands; the same bytes are stored once per
use case (``images/sha256/<2 hex>/<sha256>``) and counted once against the use case's quota.
Each file is its own transaction, so the good files of a batch land whatever happens to the others.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dda.core.db.types import utcnow
from dda.core.errors import Conflict, DDAError, InvalidInput, NotFound
from dda.core.safe_image import decode_image, probe_image
from dda.core.storage import ObjectStore
from dda.portal.api.errors import QuotaExceeded
from dda.portal.context import Portal
from dda.portal.db import DataEntry, DataObject, UseCase
from dda.portal.repositories import data as data_repo
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services import storage

MB = 1024 * 1024
HASH_CHUNK = 1024 * 1024
MAX_PATH_BYTES = 512
MAX_SEGMENT_BYTES = 255
# One folder or file name: starts with a letter/digit/underscore (so never '.', '..' or a hidden
# file), then letters, digits and a few punctuation marks. No '/', '\', '%', ':', NUL or control chars.
_SEGMENT = re.compile(r"^\w[\w .,()+=@~-]*$")
_PATH_HINT = "use '/'-separated names of letters, digits and ' ._-+=@~(),', e.g. 'line1/2026-12-01'"
IMAGE_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "BMP": "image/bmp", "TIFF": "image/tiff"}


def _check_segment(segment: str, value: str, what: str) -> None:
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise InvalidInput(f"{what} {value!r} has a name over {MAX_SEGMENT_BYTES} bytes", hint=_PATH_HINT)
    if segment.strip() != segment or not _SEGMENT.match(segment):
        raise InvalidInput(f"{what} {value[:200]!r} is not an allowed name", hint=_PATH_HINT)


def clean_folder(value: str | None) -> str:
    """A folder of the data tree ('' = the root); refuses '..', absolute paths, '%', '\\', NUL ..."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value.encode("utf-8")) > MAX_PATH_BYTES:
        raise InvalidInput("folder path is too long or not text", hint=_PATH_HINT)
    trimmed = value[:-1] if value.endswith("/") and len(value) > 1 else value
    for segment in trimmed.split("/"):
        _check_segment(segment, value, "folder")
    return trimmed


def clean_name(value: str | None) -> str:
    """One file name (no folders)."""
    if not value:
        raise InvalidInput("the file has no name", hint="send a file name with each file")
    _check_segment(value, value, "file name")
    return value


def split_path(value: str) -> tuple[str, str]:
    """``'a/b/c.jpg'`` -> ``('a/b', 'c.jpg')``, both checked."""
    folder, _, name = value.rpartition("/")
    return clean_folder(folder), clean_name(name)


def object_key(sha256: str) -> str:
    return f"images/sha256/{sha256[:2]}/{sha256}"


def hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def usecase_store(portal: Portal, usecase: UseCase) -> ObjectStore:
    return storage.store_for(portal, "usecases", usecase, usecase.id)


def quota_bytes(usecase: UseCase) -> int:
    return int((usecase.settings or {}).get("storage_quota_mb", 50_000)) * MB


@dataclass
class Outcome:
    """What became of one file of a batch (the API returns a list of these)."""

    name: str
    status: str  # stored | duplicate | exists | rejected
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rejected(name: str, exc: DDAError) -> Outcome:
    return Outcome(name=name, status="rejected", code=exc.code, error=exc.message, hint=exc.hint)


@dataclass(frozen=True)
class CheckedImage:
    sha256: str
    size: int
    format: str
    width: int
    height: int


def check_image(path: Path, max_pixels: int) -> CheckedImage:
    """Hash the file and prove it is a whole, allowed image within the pixel limit."""
    sha256, size = hash_file(path)
    info = probe_image(path)
    height, width = decode_image(path, max_pixels=max_pixels).shape[:2]
    return CheckedImage(sha256, size, info.format, width, height)


class Ingestor:
    """Adds files to one use case's tree; one instance per request (it holds the store client)."""

    def __init__(self, portal: Portal, usecase_id: str, actor_id: str | None) -> None:
        self.portal = portal
        self.usecase_id = usecase_id
        self.actor_id = actor_id
        with portal.session() as session:
            usecase = usecases_repo.by_id(session, usecase_id)
            if usecase is None:
                raise NotFound(f"no use case {usecase_id!r}", hint="pick one from GET /api/v1/usecases")
            self.quota = quota_bytes(usecase)
            self.store = usecase_store(portal, usecase)
        self.max_pixels = portal.settings.portal.max_image_pixels
        self.quota_hit = False

    def add_file(self, path: Path, folder: str, name: str) -> Outcome:
        """Check, store (once per content) and name one local file in ``folder``."""
        try:
            name = clean_name(name)
            checked = check_image(path, self.max_pixels)
        except DDAError as exc:
            return rejected(name, exc)
        try:
            return self._land(path, folder, name, checked)
        except QuotaExceeded as exc:
            self.quota_hit = True
            return rejected(name, exc)
        except IntegrityError:
            return rejected(
                name, Conflict(f"{name!r} was added to the folder at the same time", hint="retry")
            )
        except DDAError as exc:
            return rejected(name, exc)

    def _land(self, path: Path, folder: str, name: str, checked: CheckedImage) -> Outcome:
        label = f"{folder}/{name}" if folder else name
        outcome = Outcome(
            name=name,
            status="stored",
            path=label,
            sha256=checked.sha256,
            size=checked.size,
            width=checked.width,
            height=checked.height,
        )
        with self.portal.session() as session:
            existing = data_repo.entry_at(session, self.usecase_id, folder, name)
            if existing is not None:
                if existing.sha256 != checked.sha256:
                    raise Conflict(
                        f"another image is already named {label!r}",
                        hint="delete it first or upload under another name",
                    )
                outcome.status, outcome.entry_id = "exists", existing.id
                return outcome
            if data_repo.get_object(session, self.usecase_id, checked.sha256) is None:
                self._store_object(session, path, checked)
            else:
                first = data_repo.first_entry_with(session, self.usecase_id, checked.sha256)
                outcome.status = "duplicate"
                outcome.duplicate_of = (
                    (f"{first.folder}/{first.name}" if first.folder else first.name) if first else None
                )
            data_repo.ensure_folders(session, self.usecase_id, folder)
            row = DataEntry(
                usecase_id=self.usecase_id,
                folder=folder,
                name=name,
                sha256=checked.sha256,
                size=checked.size,
                created_by=self.actor_id,
            )
            session.add(row)
            session.flush()
            outcome.entry_id = row.id
        return outcome

    def _store_object(self, session: Session, path: Path, checked: CheckedImage) -> None:
        if not data_repo.reserve_bytes(session, self.usecase_id, checked.size, self.quota):
            raise QuotaExceeded(
                f"the use case's storage quota ({self.quota // MB} MB) is used up",
                hint="delete images no dataset version uses, or ask a UseCaseAdmin to raise storage_quota_mb",
            )
        self.store.put_file(object_key(checked.sha256), path, IMAGE_CONTENT_TYPES.get(checked.format))
        inserted = data_repo.add_object(
            session,
            {
                "usecase_id": self.usecase_id,
                "sha256": checked.sha256,
                "kind": "image",
                "size": checked.size,
                "format": checked.format,
                "width": checked.width,
                "height": checked.height,
                "has_thumbnail": False,
                "created_at": utcnow(),
            },
        )
        if not inserted:  # stored concurrently by another request: count it once
            data_repo.release_bytes(session, self.usecase_id, checked.size)

    def add_blob(self, session: Session, path: Path, kind: str) -> str:
        """Store a derived file (a class-id mask) content-addressed, inside the caller's transaction."""
        sha256, size = hash_file(path)
        if data_repo.get_object(session, self.usecase_id, sha256) is None:
            info = probe_image(path)
            width, height = info.oriented_size
            checked = CheckedImage(sha256, size, info.format, width, height)
            self._store_object(session, path, checked)
            if kind != "image":
                row = data_repo.get_object(session, self.usecase_id, sha256)
                if row is not None:
                    row.kind = kind
        return sha256


def get_entry(session: Session, usecase_id: str, entry_id: str) -> tuple[DataEntry, DataObject]:
    row = data_repo.entry(session, usecase_id, entry_id)
    obj = data_repo.get_object(session, usecase_id, row.sha256) if row is not None else None
    if row is None or obj is None:
        raise NotFound(f"no image {entry_id!r} in this use case", hint="browse the folder for image ids")
    return row, obj


def delete_entry(session: Session, portal: Portal, usecase_id: str, entry_id: str) -> DataEntry:
    """Remove a name from the tree; the object goes too when nothing else names or pins it.
    Refused (409) while a dataset version uses the image."""
    row, obj = get_entry(session, usecase_id, entry_id)
    pinned = data_repo.used_by_versions(session, usecase_id, row.sha256)
    if pinned:
        raise Conflict(
            f"image {row.name!r} is used by {pinned} dataset version item(s)",
            hint="dataset versions are immutable; the image can be deleted once no version uses it",
        )
    session.delete(row)
    session.flush()
    if data_repo.entry_count_with(session, usecase_id, row.sha256) == 0:
        usecase = usecases_repo.by_id(session, usecase_id)
        assert usecase is not None
        store = usecase_store(portal, usecase)
        store.delete(object_key(obj.sha256))
        if obj.has_thumbnail:
            from dda.portal.services.thumbnails import thumbnail_key

            store.delete(thumbnail_key(obj.sha256))
        data_repo.release_bytes(session, usecase_id, obj.size)
        session.delete(obj)
    return row


def entry_path(row: DataEntry) -> str:
    return f"{row.folder}/{row.name}" if row.folder else row.name


@dataclass
class BrowsePage:
    folders: list[str]
    images: list[Any]  # rows with id, folder, name, sha256, size, created_at, format, width, height
    next_cursor: str | None


def _encode_cursor(kind: str, name: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}\x00{name}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[str, str | None]:
    if not cursor:
        return "f", None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
        kind, _, name = raw.partition("\x00")
    except (ValueError, UnicodeDecodeError):
        kind, name = "", ""
    if kind not in ("f", "i") or not name:
        raise InvalidInput("the cursor is not one this API gave out", hint="pass next_cursor back unchanged")
    return kind, name


def browse(session: Session, usecase_id: str, folder: str, cursor: str | None, limit: int) -> BrowsePage:
    """One keyset page of a folder: its sub-folders first, then its images, each by name."""
    folder = clean_folder(folder)
    if not data_repo.folder_exists(session, usecase_id, folder):
        raise NotFound(f"no folder {folder!r} in this use case", hint="browse the root folder first")
    kind, after = _decode_cursor(cursor)
    folders: list[str] = []
    if kind == "f":
        rows = data_repo.subfolders(session, usecase_id, folder, after=after, limit=limit + 1)
        folders = [r.name for r in rows]
        if len(folders) > limit:
            return BrowsePage(folders[:limit], [], _encode_cursor("f", folders[limit - 1]))
        after = None
    room = limit - len(folders)
    images = data_repo.entries_in(session, usecase_id, folder, after=after, limit=room + 1) if room else []
    if len(images) > room:
        return BrowsePage(folders, images[:room], _encode_cursor("i", images[room - 1].name))
    if not room and kind == "f":  # the page is full of folders; images may follow
        last = folders[-1] if folders else None
        return BrowsePage(folders, [], _encode_cursor("f", last) if last else None)
    return BrowsePage(folders, images, None)
