"""Object store in a local folder: key ``a/b.jpg`` is the file ``<root>/a/b.jpg``.

Writes go to a temporary file in ``<root>/.dda-tmp`` first and are moved into place with
``os.replace``, so a reader sees the old object or the new one, never half of one. Because keys are
paths here, one key cannot be both an object and a folder of other objects (``a`` and ``a/b``):
such a write raises :class:`~dda.core.errors.Conflict` (S3 allows it).
"""

from __future__ import annotations

import errno
import io
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from dda.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from dda.core.storage.base import COPY_CHUNK_BYTES, ObjectStore, Readable, check_expiry
from dda.core.storage.keys import RESERVED_SEGMENT, validate_key, validate_prefix

MAX_NAME_BYTES = 255  # the limit of ext4, XFS, btrfs, NTFS and APFS for one file or folder name
_PUBLISH_ATTEMPTS = 3  # a concurrent delete may prune the target folder between mkdir and rename


class LocalObjectStore(ObjectStore):
    """Objects as files under ``root``. ``create=True`` makes the folder now; otherwise on first write."""

    def __init__(self, root: str | os.PathLike[str], *, create: bool = False) -> None:
        self.root = Path(root).expanduser().resolve()
        if self.root.exists() and not self.root.is_dir():
            raise InvalidInput(
                f"object store folder {self.root} exists but is not a folder",
                hint="point the store at a folder (file:///path/to/folder)",
            )
        self.url = self.root.as_uri()
        if create:
            self._ensure_root()

    # Writing -----------------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput(f"put_bytes needs bytes, got {type(data).__name__}", hint="encode text first")
        self.put_stream(key, io.BytesIO(data), content_type)

    def put_stream(self, key: str, fileobj: Readable, content_type: str | None = None) -> None:
        # content_type has nowhere to live in a folder; file:// readers guess it from the name.
        target = self._path(key)
        staged = self._stage(fileobj)
        try:
            self._publish(staged, target, key)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise

    def delete(self, key: str) -> None:
        target = self._path(key)
        try:
            target.unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return  # nothing stored under this key: deleting is idempotent
        except PermissionError as exc:
            if target.is_dir():
                return
            raise Unavailable(
                f"cannot delete {key!r} from {self.url}: {exc}", hint="check folder permissions"
            ) from exc
        self._prune_empty_folders(target.parent)

    # Reading -----------------------------------------------------------------------------------
    def open(self, key: str) -> BinaryIO:
        target = self._path(key)
        try:
            return target.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise self._not_found(key) from exc

    def list(self, prefix: str = "") -> list[str]:
        validate_prefix(prefix)
        folder = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not folder.is_dir():
            return []
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(folder):
            current = Path(dirpath)
            if current == self.root:
                dirnames[:] = [name for name in dirnames if name != RESERVED_SEGMENT]
            relative = current.relative_to(self.root).as_posix()
            base = "" if relative == "." else relative + "/"
            keys.extend(base + name for name in filenames if (base + name).startswith(prefix))
        return sorted(keys)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        target = self._path(key)
        if not target.is_file():
            raise self._not_found(key)
        return target.stat().st_size

    def presigned_url(self, key: str, expires_s: int = 3600) -> str:
        # A folder has no HTTP server and no expiry; the file:// URI is what a local reader can open.
        check_expiry(expires_s)
        return self._path(key).as_uri()

    # Internals ---------------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        validate_key(key)
        if any(len(name.encode("utf-8")) > MAX_NAME_BYTES for name in key.split("/")):
            raise _name_too_long(key, self.root)
        target = self.root / key
        # Keys cannot climb out with '..', but a symlink planted inside the folder could.
        real_root = os.path.realpath(self.root)
        if os.path.commonpath([real_root, os.path.realpath(target)]) != real_root:
            raise InvalidInput(
                f"object key {key!r} resolves outside {self.root} through a symbolic link",
                hint="remove symbolic links from the object store folder",
            )
        return target

    def _ensure_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Unavailable(
                f"cannot create the object store folder {self.root}: {exc.strerror or exc}",
                hint="create the folder with write access for this user, or set DDA_OBJECT_STORE_URL",
            ) from exc

    def _stage(self, fileobj: Readable) -> Path:
        """Copy the stream into a temporary file in the staging folder, in bounded chunks."""
        self._ensure_root()
        staging = self.root / RESERVED_SEGMENT
        staging.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="put-", suffix=".part", dir=staging)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := fileobj.read(COPY_CHUNK_BYTES):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name)

    def _publish(self, staged: Path, target: Path, key: str) -> None:
        if target.is_dir():
            raise Conflict(
                f"cannot store {key!r} in {self.url}: other objects live under '{key}/'",
                hint=f"use another key, or delete the objects under '{key}/' first",
            )
        for attempt in range(_PUBLISH_ATTEMPTS):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, target)
                return
            except (FileExistsError, NotADirectoryError) as exc:
                raise self._parent_is_object(key) from exc
            except FileNotFoundError:
                if attempt == _PUBLISH_ATTEMPTS - 1:
                    raise
            except OSError as exc:
                if exc.errno == errno.ENAMETOOLONG:  # a file system with a limit below the usual 255
                    raise _name_too_long(key, self.root) from exc
                raise

    def _parent_is_object(self, key: str) -> Conflict:
        parts = key.split("/")
        for depth in range(1, len(parts)):
            ancestor = "/".join(parts[:depth])
            if (self.root / ancestor).is_file():
                return Conflict(
                    f"cannot store {key!r} in {self.url}: {ancestor!r} is already an object",
                    hint=f"use another key, or delete {ancestor!r} first",
                )
        return Conflict(f"cannot store {key!r} in {self.url}: a folder on its path is not a folder")

    def _prune_empty_folders(self, folder: Path) -> None:
        """Remove folders that deleting the last object left empty, up to (not including) the root."""
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return  # not empty, or already gone: either way stop here
            folder = folder.parent

    def _not_found(self, key: str) -> NotFound:
        return NotFound(
            f"no object {key!r} in {self.url}",
            hint="check the key; list(prefix) shows what is stored",
        )


def _name_too_long(key: str, root: Path) -> InvalidInput:
    return InvalidInput(
        f"object key {key!r} has a name too long for the file system of {root}",
        hint=f"keep each '/'-separated name under {MAX_NAME_BYTES} bytes",
    )
