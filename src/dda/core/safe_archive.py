"""Safe extraction of untrusted tar, tar.gz and zip archives, and deterministic tar.gz packaging.

:func:`extract_archive` detects the format from the magic bytes (never the file name) and refuses,
with :class:`~dda.core.errors.InvalidInput` naming the entry and the rule, any archive that holds:

- an absolute path (``/etc/x``, ``C:x``), a ``..`` component, a backslash or a NUL in a name;
- a symlink whose target is absolute or resolves outside the destination (checked lexically when
  the link is made, and again with every link in place before anything is published), or an entry
  that would be written *through* a symlink;
- a hardlink whose target is not a regular file extracted earlier from the same archive;
- a device file, FIFO or socket (or any other special type);
- two entries with the same normalised path;
- more than ``max_entries`` entries, more than ``max_total_bytes`` of file data, or a single file over
  ``max_file_bytes``. Bytes are counted while they are decompressed and written, so archive headers
  that under-state sizes (zip bombs) do not help; zip headers that *over*-state them fail early.

Internal symlinks and hardlinks are kept because real model and dataset packages use them.

Nothing is written outside the destination: entries go into a private temporary folder next to
``dest`` (same file system), files are opened with ``O_EXCL | O_NOFOLLOW``, and the folder is renamed
onto ``dest`` in one step only after every entry has passed. On any refusal or error the temporary
folder is removed and ``dest`` is left as it was (``dest`` must be absent or an empty folder).
Permissions are normalised: files 0644, or 0755 when the archive marks them executable; folders
0755; set-uid/set-gid/sticky bits, owners and timestamps from the archive are not applied.

For tar archives the decompressed stream is also bounded (file data plus a per-entry allowance for
headers), and a single metadata record (pax header, GNU long name) may not exceed 1 MiB, because
Python's ``tarfile`` would otherwise read it into memory whole. A zip's central directory is parsed
by ``zipfile``; its size is bounded by the archive file itself.

:func:`create_tar_gz` writes reproducible archives: sorted entries, zero timestamps and owners,
normalised modes, and a gzip header without name or time, so equal folders give equal bytes.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO, Literal

from dda.core.errors import Conflict, DDAError, InvalidInput, NotFound

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_TOTAL_BYTES = 2 * GiB

ArchiveFormat = Literal["tar", "tar.gz", "zip"]
EntryKind = Literal["file", "dir", "symlink", "hardlink"]

_CHUNK = 1 * MiB
_MAX_TAR_RECORD = 1 * MiB  # one tarfile read: a data chunk or a whole pax/GNU long-name record
_TAR_OVERHEAD_PER_ENTRY = 8 * KiB  # header blocks, padding, a modest pax record
_MAX_LINK_TARGET = 4096
_MAGIC_BYTES = 512 + 8  # the ustar magic sits at offset 257
_FOREIGN_ARCHIVES: tuple[tuple[bytes, str], ...] = (
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip"),
    (b"Rar!\x1a\x07", "RAR"),
    (b"\x1f\x9d", "compress (.Z)"),
)
_LINK_HINT = "archives may only link to files and folders inside themselves"


# --------------------------------------------------------------------------- public API


def detect_archive_format(head: bytes) -> ArchiveFormat:
    """The archive format announced by the first bytes (at least 262 for tar); InvalidInput if none."""
    if head.startswith(b"\x1f\x8b"):
        return "tar.gz"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head[257:262] == b"ustar":
        return "tar"
    for magic, name in _FOREIGN_ARCHIVES:
        if head.startswith(magic):
            raise InvalidInput(
                f"this is a {name} file; supported archives are tar, tar.gz and zip",
                hint="repack it as .tar.gz or .zip",
            )
    raise InvalidInput(
        f"not a tar, tar.gz or zip archive (first bytes: {head[:8].hex(' ') or 'none, the file is empty'})",
        hint="upload a .tar, .tar.gz or .zip file",
    )


def extract_archive(
    archive: Path,
    dest: Path,
    *,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_file_bytes: int | None = None,
) -> list[Path]:
    """Extract ``archive`` into ``dest`` (absent or empty) all-or-nothing; return the files made.

    The returned paths (regular files, symlinks and hardlinks, in archive order) are under ``dest``.
    """
    archive, dest = Path(archive), Path(dest)
    if max_entries < 1 or max_total_bytes < 0 or (max_file_bytes is not None and max_file_bytes < 0):
        raise ValueError("max_entries must be >= 1 and byte limits must be >= 0")
    if not archive.is_file():
        raise NotFound(f"archive {archive} does not exist or is not a file", hint="check the path")
    _check_destination(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    limits = _Limits(max_entries, max_total_bytes, max_file_bytes)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.extract-", dir=dest.parent))
    try:
        extractor = _Extractor(staging, limits)
        with archive.open("rb") as handle:
            fmt = detect_archive_format(handle.read(_MAGIC_BYTES))
            handle.seek(0)
            with _archive_errors(archive, fmt):
                _extract_stream(handle, fmt, extractor)
        extractor.check_links()
        _publish(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [dest / rel for rel in extractor.created]


def create_tar_gz(src_dir: Path, archive_path: Path, *, compresslevel: int = 6) -> Path:
    """Pack ``src_dir`` into a reproducible .tar.gz at ``archive_path`` (written atomically).

    Only regular files and folders are packed; a symlink or special file is refused.
    """
    src, archive_path = Path(src_dir).resolve(), Path(archive_path).absolute()
    if not src.is_dir():
        raise NotFound(f"folder to pack {src} does not exist", hint="check the path")
    if archive_path.resolve().is_relative_to(src):
        raise InvalidInput(
            f"archive {archive_path} would be written inside the folder it packs ({src})",
            hint="write the archive next to the folder instead",
        )
    entries = _walk_for_packing(src)
    archive_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{archive_path.name}.", suffix=".tmp", dir=archive_path.parent)
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=compresslevel) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for rel, path, is_dir in entries:
                _add_normalised(tar, rel, path, is_dir)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, archive_path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return archive_path


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class _Limits:
    max_entries: int
    max_total_bytes: int
    max_file_bytes: int | None


@dataclass
class _Entry:
    """One archive member, format-independent."""

    name: str
    kind: EntryKind
    executable: bool = False
    link_target: str | None = None
    open_data: Callable[[], IO[bytes]] | None = None


def _entry_error(name: str, rule: str, hint: str) -> InvalidInput:
    return InvalidInput(f"archive entry {name!r} refused: {rule}", hint=hint)


def _normalise_name(name: str, *, what: str = "path") -> PurePosixPath | None:
    """Relative, clean path of an entry (or link target); None for the archive root ('./')."""
    if not name or "\x00" in name:
        raise _entry_error(
            name, f"empty {what} or NUL byte in {what}", "rebuild the archive with plain file names"
        )
    if "\\" in name:
        raise _entry_error(
            name, f"backslash in {what} (a Windows separator)", "use '/' as the path separator"
        )
    if name.startswith("/") or (len(name) >= 2 and name[1] == ":" and name[0].isalpha()):
        raise _entry_error(name, f"absolute {what}", "archive entries must be relative to the archive root")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _entry_error(
            name, f"'..' in {what} (path traversal)", "archive entries must stay inside the archive"
        )
    return PurePosixPath(*parts) if parts else None


@dataclass
class _Extractor:
    """Writes entries under ``root`` while enforcing every rule; tracks what it made."""

    root: Path
    limits: _Limits
    entries: int = 0
    total_bytes: int = 0
    seen: set[PurePosixPath] = field(default_factory=set)
    regular_files: set[PurePosixPath] = field(default_factory=set)
    symlinks: list[tuple[PurePosixPath, str, str]] = field(default_factory=list)
    created: list[PurePosixPath] = field(default_factory=list)

    def add(self, entry: _Entry) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise _entry_error(
                entry.name,
                f"the archive has more than {self.limits.max_entries:,} entries",
                "split the archive or raise max_entries",
            )
        rel = _normalise_name(entry.name)
        if rel is None:
            if entry.kind == "dir":
                return  # './' - the destination itself
            raise _entry_error(
                entry.name, "a non-folder entry names the archive root", "give the entry a file name"
            )
        if rel in self.seen:
            raise _entry_error(entry.name, "duplicate entry (same path appears twice)", "rebuild the archive")
        self.seen.add(rel)
        if entry.kind == "dir":
            self._make_dir(entry.name, rel)
        elif entry.kind == "file":
            self._write_file(entry, rel)
        elif entry.kind == "symlink":
            self._make_symlink(entry, rel)
        else:
            self._make_hardlink(entry, rel)

    def check_links(self) -> None:
        """With every link in place, each symlink must still resolve inside the root."""
        root = os.path.realpath(self.root)
        for rel, name, target in self.symlinks:
            resolved = os.path.realpath(self.root / rel)
            if resolved != root and not resolved.startswith(root + os.sep):
                raise _entry_error(
                    name, f"symlink to {target!r} resolves outside the destination", _LINK_HINT
                )

    # -- writers

    def _make_dir(self, name: str, rel: PurePosixPath) -> None:
        path = self._prepare_parent(name, rel)
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                raise _entry_error(
                    name, "a folder clashes with a file or link of the same path", "rename one"
                ) from None

    def _write_file(self, entry: _Entry, rel: PurePosixPath) -> None:
        assert entry.open_data is not None
        path = self._prepare_parent(entry.name, rel)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            raise _entry_error(
                entry.name, "clashes with a folder or link of the same path", "rename one"
            ) from None
        with os.fdopen(fd, "wb") as out, entry.open_data() as source:
            written = 0
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                self._account(entry.name, written, len(chunk))
                out.write(chunk)
        os.chmod(path, 0o755 if entry.executable else 0o644)
        self.regular_files.add(rel)
        self.created.append(rel)

    def _make_symlink(self, entry: _Entry, rel: PurePosixPath) -> None:
        target = entry.link_target or ""
        if not target or "\x00" in target or len(target) > _MAX_LINK_TARGET:
            raise _entry_error(entry.name, "symlink with an empty, binary or over-long target", _LINK_HINT)
        if target.startswith("/") or "\\" in target or (len(target) >= 2 and target[1] == ":"):
            raise _entry_error(entry.name, f"symlink to absolute path {target!r}", _LINK_HINT)
        lexical = posixpath.normpath(posixpath.join(str(rel.parent), target))
        if lexical == ".." or lexical.startswith("../"):
            raise _entry_error(
                entry.name, f"symlink to {target!r} points outside the destination", _LINK_HINT
            )
        path = self._prepare_parent(entry.name, rel)
        try:
            os.symlink(target, path)
        except FileExistsError:
            raise _entry_error(entry.name, "clashes with a folder of the same path", "rename one") from None
        self.symlinks.append((rel, entry.name, target))
        self.created.append(rel)

    def _make_hardlink(self, entry: _Entry, rel: PurePosixPath) -> None:
        target_name = entry.link_target or ""
        target = _normalise_name(target_name, what="hardlink target")
        if target is None or target not in self.regular_files:
            raise _entry_error(
                entry.name,
                f"hardlink to {target_name!r}, not a regular file extracted earlier from this archive",
                _LINK_HINT,
            )
        path = self._prepare_parent(entry.name, rel)
        try:
            os.link(self.root / target, path, follow_symlinks=False)
        except FileExistsError:
            raise _entry_error(entry.name, "clashes with a folder of the same path", "rename one") from None
        self.regular_files.add(rel)
        self.created.append(rel)

    # -- guards

    def _prepare_parent(self, name: str, rel: PurePosixPath) -> Path:
        """Create missing parent folders; refuse to pass through a symlink or a file."""
        current = self.root
        for part in rel.parts[:-1]:
            current = current / part
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                os.mkdir(current, 0o755)
                continue
            if stat.S_ISLNK(mode):
                raise _entry_error(
                    name, f"would be written through the symlink {current.relative_to(self.root)}", _LINK_HINT
                )
            if not stat.S_ISDIR(mode):
                raise _entry_error(
                    name, f"its parent {current.relative_to(self.root)} is not a folder", "rename one"
                )
        return self.root / rel

    def _account(self, name: str, file_bytes: int, new_bytes: int) -> None:
        self.total_bytes += new_bytes
        limit = self.limits.max_file_bytes
        if limit is not None and file_bytes > limit:
            raise _entry_error(
                name,
                f"file is larger than the {limit:,}-byte per-file limit",
                "raise max_file_bytes or split it",
            )
        if self.total_bytes > self.limits.max_total_bytes:
            raise _entry_error(
                name,
                f"the archive unpacks to more than {self.limits.max_total_bytes:,} bytes",
                "this may be a decompression bomb; if not, raise max_total_bytes",
            )


# --------------------------------------------------------------------------- formats


def _extract_stream(handle: BinaryIO, fmt: ArchiveFormat, extractor: _Extractor) -> None:
    if fmt == "zip":
        with zipfile.ZipFile(handle) as zf:
            for entry in _zip_entries(zf, extractor.limits):
                extractor.add(entry)
        return
    inner: IO[bytes] = handle
    if fmt == "tar.gz":
        inner = gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[assignment]
    limits = extractor.limits
    bound = limits.max_total_bytes + (limits.max_entries + 1) * _TAR_OVERHEAD_PER_ENTRY + MiB
    guarded = _BoundedTarStream(inner, bound)
    with tarfile.open(fileobj=guarded, mode="r:") as tf:
        for member in tf:
            extractor.add(_tar_entry(tf, member))


def _tar_entry(tf: tarfile.TarFile, member: tarfile.TarInfo) -> _Entry:
    executable = bool(member.mode & 0o111)
    if member.isreg():

        def open_data() -> IO[bytes]:
            stream = tf.extractfile(member)
            assert stream is not None
            return stream

        return _Entry(member.name, "file", executable, open_data=open_data)
    if member.isdir():
        return _Entry(member.name, "dir")
    if member.issym():
        return _Entry(member.name, "symlink", link_target=member.linkname)
    if member.islnk():
        return _Entry(member.name, "hardlink", link_target=member.linkname)
    if member.ischr() or member.isblk() or member.isfifo():
        raise _entry_error(
            member.name, "device file or FIFO", "archives may hold only files, folders and links"
        )
    raise _entry_error(member.name, f"unsupported tar entry type {member.type!r}", "repack with plain files")


def _zip_entries(zf: zipfile.ZipFile, limits: _Limits) -> Iterator[_Entry]:
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise _entry_error(
            infos[limits.max_entries].filename,
            f"the archive has {len(infos):,} entries, more than {limits.max_entries:,}",
            "split the archive or raise max_entries",
        )
    if sum(info.file_size for info in infos) > limits.max_total_bytes:
        biggest = max(infos, key=lambda info: info.file_size)
        raise _entry_error(
            biggest.filename,
            f"the archive declares more than {limits.max_total_bytes:,} bytes of content",
            "split the archive or raise max_total_bytes",
        )
    for info in infos:
        yield _zip_entry(zf, info)


def _zip_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Entry:
    if info.flag_bits & 0x1:
        raise _entry_error(info.filename, "encrypted entry", "repack the archive without a password")
    mode = info.external_attr >> 16 if info.create_system == 3 else 0  # unix attributes
    kind = stat.S_IFMT(mode)
    if info.is_dir() or kind == stat.S_IFDIR:
        return _Entry(info.filename, "dir")
    if kind == stat.S_IFLNK:
        with zf.open(info) as link:
            raw = link.read(_MAX_LINK_TARGET + 1)
        return _Entry(info.filename, "symlink", link_target=raw.decode("utf-8", "surrogateescape"))
    if kind not in (0, stat.S_IFREG):
        raise _entry_error(
            info.filename, "device file, FIFO or socket", "archives may hold only files, folders and links"
        )

    def open_data() -> IO[bytes]:
        return zf.open(info)

    return _Entry(info.filename, "file", bool(mode & 0o111), open_data=open_data)


class _BoundedTarStream(io.RawIOBase):
    """The (decompressed) tar stream as tarfile sees it, with a total and a per-read bound.

    tarfile reads a pax header or GNU long name in one ``read``; refusing reads over 1 MiB keeps such
    a record from being pulled into memory whole.
    """

    def __init__(self, inner: IO[bytes], max_bytes: int) -> None:
        super().__init__()
        self._inner = inner
        self._max_bytes = max_bytes
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("tar streams are read from the start")
        self._check_total(offset)
        self._position = self._inner.seek(offset)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > _MAX_TAR_RECORD:
            raise InvalidInput(
                f"tar metadata record of {size} bytes exceeds the {_MAX_TAR_RECORD:,}-byte limit",
                hint="the archive has an oversized pax header or long name; rebuild it",
            )
        data = self._inner.read(size)
        self._check_total(self._position + len(data))
        self._position += len(data)
        return data

    def _check_total(self, position: int) -> None:
        if position > self._max_bytes:
            raise InvalidInput(
                f"tar stream unpacks to more than {self._max_bytes:,} bytes",
                hint="this may be a decompression bomb; if not, raise max_total_bytes",
            )


@contextmanager
def _archive_errors(archive: Path, fmt: ArchiveFormat) -> Iterator[None]:
    """Turn the many ways a malformed archive fails into one InvalidInput (our own errors pass)."""
    try:
        yield
    except DDAError:
        raise
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        gzip.BadGzipFile,
        EOFError,
        zlib.error,
        NotImplementedError,  # unsupported zip compression method
        RuntimeError,  # zipfile: password required
        UnicodeDecodeError,
    ) as exc:
        raise InvalidInput(
            f"{fmt} archive {archive.name} is corrupt or truncated: {exc}",
            hint="download or build the archive again",
        ) from exc


# --------------------------------------------------------------------------- destination


def _check_destination(dest: Path) -> None:
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise Conflict(f"destination {dest} exists and is not a folder", hint="choose another destination")
    if dest.is_dir() and any(dest.iterdir()):
        raise Conflict(f"destination {dest} is not empty", hint="extract into a new or empty folder")


def _publish(staging: Path, dest: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o755 & ~umask)
    try:
        os.rename(staging, dest)  # atomic; replaces an empty folder
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            raise Conflict(f"destination {dest} appeared while extracting", hint="extract again") from exc
        raise


# --------------------------------------------------------------------------- packing


def _walk_for_packing(src: Path) -> list[tuple[str, Path, bool]]:
    """(relative POSIX name, path, is_dir) for every folder and file under src, sorted by name.

    A folder sorts before its contents because its name is a prefix of theirs.
    """
    found: list[tuple[str, Path, bool]] = []
    for dirpath, dirnames, filenames in os.walk(src):
        base = Path(dirpath)
        for name in [*dirnames, *filenames]:
            path = base / name
            mode = os.lstat(path).st_mode
            rel = path.relative_to(src).as_posix()
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise InvalidInput(
                    f"cannot pack {rel}: it is a symlink or special file",
                    hint="packages hold regular files and folders only; replace it with a copy",
                )
            found.append((rel, path, stat.S_ISDIR(mode)))
    return sorted(found)


def _add_normalised(tar: tarfile.TarFile, rel: str, path: Path, is_dir: bool) -> None:
    info = tarfile.TarInfo(rel)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if is_dir:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
        return
    st = path.stat()
    info.size = st.st_size
    info.mode = 0o755 if st.st_mode & 0o111 else 0o644
    with path.open("rb") as handle:
        tar.addfile(info, handle)
