"""The object-store interface every plane uses, whatever holds the bytes (a folder, any S3 API).

Implementations subclass :class:`ObjectStore` and implement the abstract methods; the helpers that
can be written once on top of them (``put_file``, ``get_bytes``, ``get_file``) live here.
"""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO, Protocol

from dda.core.errors import InvalidInput, NotFound

COPY_CHUNK_BYTES = 1024 * 1024
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # S3's limit for SigV4 presigned URLs


class Readable(Protocol):
    """Anything with ``read(size)`` returning bytes: open files, sockets' makefile(), upload bodies."""

    def read(self, size: int = -1, /) -> bytes: ...


class ObjectStore(ABC):
    """Bytes under keys. Keys are validated by :func:`dda.core.storage.keys.validate_key`.

    Errors: a missing key raises :class:`~dda.core.errors.NotFound`; a bad key
    :class:`~dda.core.errors.InvalidInput`; a store that cannot be reached
    :class:`~dda.core.errors.Unavailable`.
    """

    #: The URI that :func:`dda.core.storage.open_store` turns back into this store.
    url: str

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Store ``data`` under ``key``, replacing what was there. Readers never see a partial object."""

    @abstractmethod
    def put_stream(self, key: str, fileobj: Readable, content_type: str | None = None) -> None:
        """Store everything ``fileobj.read()`` yields, in bounded chunks (never all in memory)."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the object; use it as a context manager to close it."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Every key that starts with ``prefix`` (plain string prefix, all depths), sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; removing a key that does not exist is not an error."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abstractmethod
    def size(self, key: str) -> int:
        """The object's size in bytes."""

    @abstractmethod
    def presigned_url(self, key: str, expires_s: int = 3600) -> str:
        """A URL that GETs the object without further credentials (``file://`` for a folder store).

        The URL is computed, not checked: it does not prove that the object exists.
        """

    # Written once on top of the methods above; implementations may override for speed.
    def put_file(self, key: str, path: str | os.PathLike[str], content_type: str | None = None) -> None:
        """Store the contents of the local file ``path`` under ``key``."""
        source = Path(path)
        if not source.is_file():
            raise NotFound(f"cannot upload {source}: no such file", hint="check the path")
        with source.open("rb") as handle:
            self.put_stream(key, handle, content_type)

    def get_bytes(self, key: str) -> bytes:
        """The whole object in memory; use :meth:`open` or :meth:`get_file` for large objects."""
        with self.open(key) as stream:
            return stream.read()

    def get_file(self, key: str, dest_path: str | os.PathLike[str]) -> Path:
        """Download ``key`` to ``dest_path`` (parents created); the file appears complete or not at all."""
        dest = Path(dest_path)
        if dest.is_dir():
            raise InvalidInput(
                f"cannot download {key!r} to {dest}: it is a folder",
                hint=f"pass a file path, e.g. {dest / Path(key).name}",
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.open(key) as stream:
            write_atomically(dest, stream)
        return dest

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def write_atomically(dest: Path, stream: Readable, staging_dir: Path | None = None) -> int:
    """Copy ``stream`` to ``dest`` via a temporary file and ``os.replace``; return the bytes written.

    The temporary file lives in ``staging_dir`` (default: next to ``dest``), which must be on the
    same file system so that the final rename is atomic.
    """
    folder = staging_dir or dest.parent
    fd, tmp_name = tempfile.mkstemp(prefix=".part-", dir=folder)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(COPY_CHUNK_BYTES):
                out.write(chunk)
                written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return written


def check_expiry(expires_s: int) -> int:
    """Validate a presigned URL's lifetime in seconds."""
    if isinstance(expires_s, bool) or not isinstance(expires_s, int):
        raise InvalidInput(f"expires_s must be an integer number of seconds, got {expires_s!r}")
    if not 1 <= expires_s <= MAX_PRESIGN_SECONDS:
        raise InvalidInput(
            f"expires_s={expires_s} is outside 1..{MAX_PRESIGN_SECONDS} seconds",
            hint="presigned URLs may live at most 7 days",
        )
    return expires_s
