"""Results made durable through the journal: the latency path pays one ``fdatasync``.

Saving a group: assign ids -> one journal record (rows + file bytes), synced -> acknowledged; then
the files are written (page cache) and the rows committed (SQLite WAL, synchronous=NORMAL), so
they can be read at once. A checkpoint thread (every ``CHECKPOINT_S``, sooner when the journal
fills up) rotates the journal, syncs what the rotated records describe (files, folders, the
database's WAL) and only then resets that segment. At start, :meth:`JournaledWrites.recover`
restores from the records left (rows missing after a power cut, files missing or cut short) and
syncs them before the journal starts over.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, func, select
from sqlalchemy.orm import Session, sessionmaker

from dda.core.db.types import UTCDateTime
from dda.core.logging import get_logger
from dda.station.db.models import Base, Capture, InferenceResult
from dda.station.services.durable import _SYNC_POOL, fsync_dir
from dda.station.services.journal import ResultJournal, Segment

log = get_logger(__name__)
CHECKPOINT_S = 1.0
LENGTH = struct.Struct("<Q")


@dataclass
class PreparedResult:
    """A result ready to store: its rows and its files (relative to the results folder)."""

    capture: Capture
    row: InferenceResult
    files: dict[str, bytes] = field(default_factory=dict)


def _values(row: Base) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        if value is not None:
            values[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return values


def _is_datetime(column: Any) -> bool:
    return isinstance(column.type, DateTime | UTCDateTime)


def _row(model: type[Base], values: dict[str, Any]) -> Any:
    columns = model.__table__.columns
    return model(
        **{
            key: datetime.fromisoformat(value) if _is_datetime(columns[key]) else value
            for key, value in values.items()
        }
    )


def encode(group: Sequence[PreparedResult]) -> bytes:
    """One record: a JSON head (rows, file names and sizes) followed by the files' bytes."""
    head = [
        {
            "capture": _values(item.capture),
            "result": _values(item.row),
            "files": [[name, len(data)] for name, data in item.files.items()],
        }
        for item in group
    ]
    raw = json.dumps(head, separators=(",", ":")).encode()
    blobs = [data for item in group for data in item.files.values()]
    return b"".join([LENGTH.pack(len(raw)), raw, *blobs])


def decode(payload: bytes) -> list[PreparedResult]:
    (size,) = LENGTH.unpack_from(payload)
    head = json.loads(payload[LENGTH.size : LENGTH.size + size])
    offset = LENGTH.size + size
    group = []
    for entry in head:
        files = {}
        for name, length in entry["files"]:
            files[name] = payload[offset : offset + length]
            offset += length
        capture, row = _row(Capture, entry["capture"]), _row(InferenceResult, entry["result"])
        group.append(PreparedResult(capture, row, files))
    return group


def _sync_paths(paths: Iterable[Path]) -> None:
    def sync(path: Path) -> None:
        try:
            if path.is_dir():
                fsync_dir(path)
            else:
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except FileNotFoundError:
            pass  # deleted since (quota, retention): nothing to keep

    for _ in _SYNC_POOL.map(sync, list(paths)):
        pass


def _same_file(fd: int, path: Path) -> bool:
    try:
        held, current = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino)


class JournaledWrites:
    def __init__(
        self,
        root: Path,
        journal: ResultJournal,
        sessions: sessionmaker[Session],
        fast_sessions: sessionmaker[Session],
        database_files: Sequence[Path],
        interval_s: float = CHECKPOINT_S,
    ) -> None:
        self.root = root
        self.journal = journal
        self.sessions = sessions  # synchronous=FULL: recovery
        self.fast_sessions = fast_sessions  # synchronous=NORMAL: rows the journal covers
        self.database_files = list(database_files)
        self._database_fds: dict[Path, int] = {}  # held open until close(): see _sync_database
        self.interval_s = interval_s
        self._write_lock = threading.Lock()  # ids, journal order and row order agree
        self._checkpoint_lock = threading.Lock()
        self._unsynced: set[Path] = set()  # written since the last rotation, not synced yet
        self._retiring: list[tuple[Segment, set[Path]]] = []
        self._next_id = 1
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------------------- start and stop

    def recover(self) -> int:
        """Restore what the journal holds and the store lacks; sync it; start the journal over."""
        restored = 0
        groups = [decode(payload) for payload in self.journal.replay()]
        with self.sessions() as session, session.begin():
            for group in groups:
                for item in group:
                    restored += self._restore(session, item)
        _sync_paths(self._unsynced)
        self._sync_database()
        self._unsynced.clear()
        if restored:
            log.warning("restored results from the journal after an interruption", count=restored)
        with self.sessions() as session:
            self._next_id = (session.scalar(select(func.max(InferenceResult.id))) or 0) + 1
        self.journal.open()
        return restored

    def _restore(self, session: Session, item: PreparedResult) -> int:
        missing_row = session.get(Capture, item.capture.id) is None
        if missing_row:
            session.add(item.capture)
            session.flush()
            session.add(item.row)
            session.flush()
        wrote = False
        for name, data in item.files.items():
            path = self.root / name
            if not path.is_file() or path.stat().st_size < len(data):
                self._write_file(path, data)
                wrote = True
        return int(missing_row or wrote)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="result-checkpoint", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
        self.checkpoint()
        self.journal.close()
        fast_engine = self.fast_sessions.kw.get("bind")
        if fast_engine is not None and fast_engine is not self.sessions.kw.get("bind"):
            fast_engine.dispose()
        # Last: closing these drops this process's SQLite locks (see _sync_database), so the
        # station's own engine is disposed before this (stop_station).
        for fd in self._database_fds.values():
            os.close(fd)
        self._database_fds.clear()

    def _sync_database(self) -> None:
        """fsync the SQLite files (what makes the synchronous=NORMAL commits durable) through
        descriptors opened once and held until :meth:`close`. Closing *any* descriptor of a file
        drops every POSIX lock the process holds on it, SQLite's included: another process's
        closing connection then believes it is the last one, checkpoints the WAL and deletes it,
        and this station goes on committing into the deleted file, unseen by every other process
        (https://sqlite.org/howtocorrupt.html#_posix_advisory_locks_canceled_by_a_separate_thread_doing_close_)."""
        for path in self.database_files:
            fd = self._database_fds.get(path)
            if fd is not None and not _same_file(fd, path):
                # SQLite made that file anew (a WAL is deleted when its last connection closes).
                # No SQLite lock is held on a file no longer at that path: closing it is safe.
                os.close(fd)
                fd = None
            if fd is None:
                try:
                    fd = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    self._database_fds.pop(path, None)
                    continue
                self._database_fds[path] = fd
            os.fsync(fd)

    # ----------------------------------------------------------------------------- the hot path

    def save(self, group: list[PreparedResult], durable: Callable[[], None] | None = None) -> None:
        """Durable (journal) on return, and readable (files, rows). ``durable`` runs once the
        record is synced, before the files and rows are written (it may still change the rows)."""
        with self._write_lock:
            for item in group:
                item.row.id = self._next_id
                self._next_id += 1
            payload = encode(group)
            if not self.journal.has_room(len(payload)):
                self._rotate(len(payload))
            self.journal.append(payload)  # acknowledged from here on
            if durable is not None:
                durable()
            for item in group:
                for name, data in item.files.items():
                    self._write_file(self.root / name, data)
            with self.fast_sessions() as session, session.begin():
                session.add_all([item.capture for item in group])
                session.flush()
                session.add_all([item.row for item in group])
            if self.journal.pending_bytes > self.journal.segment_bytes // 2:
                self._wake.set()  # checkpoint early, so the next rotation finds a spare

    def _rotate(self, need_bytes: int = 0) -> None:
        """(Write lock held.) Hand the active segment and the paths its records wrote to the
        checkpoint; new records go to a fresh segment."""
        retiring = self.journal.rotate(need_bytes)
        if retiring is not None:
            self._retiring.append((retiring, self._unsynced))
            self._unsynced = set()
            self._wake.set()

    def _write_file(self, path: Path, data: bytes) -> None:
        self._make_folders(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        self._unsynced.update((path, path.parent))  # the file and its entry in the folder

    def _make_folders(self, folder: Path) -> None:
        if folder.is_dir():
            return
        if folder.parent != self.root:
            self._make_folders(folder.parent)
        folder.mkdir(exist_ok=True)
        self._unsynced.update((folder.parent, folder))

    # ----------------------------------------------------------------------------- checkpoints

    def checkpoint(self) -> None:
        """Sync everything the journal holds so far (files, folders, the WAL), then retire it."""
        with self._write_lock:
            self._rotate()
        with self._checkpoint_lock:
            with self._write_lock:
                retiring, self._retiring = self._retiring, []
            if not retiring:
                return
            paths: set[Path] = set()
            for _, written in retiring:
                paths |= written
            _sync_paths(paths)
            self._sync_database()
            for segment, _ in retiring:
                self.journal.retire(segment)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set() or not self.journal.is_open:
                return
            try:
                self.checkpoint()
            except Exception as exc:  # the journal still holds everything: retried next time
                log.warning("result checkpoint failed", error=str(exc))
