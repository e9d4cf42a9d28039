"""The result journal: one durable write per group of results, in place of an fsync per file.

A result is acknowledged once its journal record is on disk: the rows and every file's bytes,
appended to a segment and made durable by one ``fdatasync``. Segments are recycled (a checkpoint
retires one about every second), so records mostly overwrite blocks a segment already has: no
metadata changes, the cheapest durable write there is. (Segments are not zero-filled up front:
that would cost every station start, and every test, tens of megabytes of writes.) The capture's
files and the SQLite rows (WAL, ``synchronous=NORMAL``) are written right after, without waiting
for the disk; a checkpoint later syncs them in bulk (files, their folders, the WAL) and only then
retires the records.

After a crash or a power cut, :meth:`ResultJournal.replay` gives back every record not retired;
the store restores what is missing from them (rows, files), so nothing acknowledged is lost.

Segment layout: a 16-byte header (magic, salt) and records of ``length, salt, crc32`` + payload.
Reading stops at the first record whose salt or checksum does not match: the end of the file, a
torn write, or older records of a recycled segment (a new salt each reuse).
"""

from __future__ import annotations

import os
import secrets
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

from dda.core.logging import get_logger

log = get_logger(__name__)
MAGIC = b"DDAJ0001"
HEADER = struct.Struct("<8sQ")  # magic, salt
RECORD = struct.Struct("<IQI")  # payload length, salt, crc32 of the payload
SEGMENT_BYTES = 32 * 1024 * 1024  # a rotation is due once a segment holds this much
_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


class Segment:
    """One journal file. ``size`` is how much it may hold before a rotation is due."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.salt = 0
        self.end = HEADER.size

    def reset(self) -> None:
        """Start the segment over with a new salt: its older records stop being valid."""
        self.salt = secrets.randbits(63) or 1
        os.pwrite(self.fd, HEADER.pack(MAGIC, self.salt), 0)
        _datasync(self.fd)
        self.end = HEADER.size

    def fits(self, payload_bytes: int) -> bool:
        return self.end + RECORD.size + payload_bytes <= self.size

    def append(self, payload: bytes) -> None:
        record = RECORD.pack(len(payload), self.salt, zlib.crc32(payload)) + payload
        view = memoryview(record)
        offset = self.end
        while view:
            written = os.pwrite(self.fd, view, offset)
            view, offset = view[written:], offset + written
        _datasync(self.fd)
        self.end = offset

    def close(self) -> None:
        os.close(self.fd)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(path: Path) -> Iterator[bytes]:
    """The valid records of a segment file, in order."""
    with path.open("rb") as handle:
        head = handle.read(HEADER.size)
        if len(head) < HEADER.size:
            return
        magic, salt = HEADER.unpack(head)
        if magic != MAGIC:
            return
        while True:
            raw = handle.read(RECORD.size)
            if len(raw) < RECORD.size:
                return
            length, record_salt, crc = RECORD.unpack(raw)
            if record_salt != salt or length == 0:
                return
            payload = handle.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return  # torn at the tail: never acknowledged
            yield payload


class ResultJournal:
    """The active segment takes records; it is rotated out (to be retired by a checkpoint once
    what it holds is synced elsewhere) and a spare, or a new segment, takes over.
    Callers serialise :meth:`append` and :meth:`rotate` (the store's write lock)."""

    def __init__(self, folder: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.folder = folder
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()  # the spares list: retire runs on the checkpoint thread
        self._active: Segment | None = None
        self._spares: list[Segment] = []
        self._made = 0

    def replay(self) -> list[bytes]:
        """Every record not retired (oldest segment first). Call before :meth:`open`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        records: list[bytes] = []
        for path in sorted(self.folder.glob("segment-*.log"), key=lambda p: int(p.stem.split("-")[1])):
            records.extend(read_records(path))
        return records

    def open(self) -> None:
        """Start over (after the replayed records were restored and synced by the caller)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in self.folder.glob("segment-*.log"):
            path.unlink()
        self._active = self._new_segment(self.segment_bytes)
        self._spares = []

    def _new_segment(self, size: int) -> Segment:
        segment = Segment(self.folder / f"segment-{self._made}.log", size)
        self._made += 1
        segment.reset()
        _sync_folder(self.folder)  # the new file's name must survive a power cut too
        return segment

    def has_room(self, payload_bytes: int) -> bool:
        assert self._active is not None, "the journal is not open"
        return self._active.fits(payload_bytes)

    def append(self, payload: bytes) -> None:
        """Durable on return. Rotate first when :meth:`has_room` says no."""
        assert self._active is not None, "the journal is not open"
        self._active.append(payload)

    @property
    def is_open(self) -> bool:
        return self._active is not None

    def rotate(self, need_bytes: int = 0) -> Segment | None:
        """A fresh active segment (with room for ``need_bytes``); the old one, unless empty, is
        returned to be retired once its records are durable elsewhere."""
        assert self._active is not None, "the journal is not open"
        if self._active.end == HEADER.size and self._active.fits(need_bytes):
            return None
        old: Segment | None = self._active
        with self._lock:
            spare = self._spares.pop() if self._spares else None
            if self._active.end == HEADER.size:  # empty, only too small: a spare, nothing to retire
                self._spares.insert(0, self._active)
                old = None
        if spare is None or not spare.fits(need_bytes):
            if spare is not None:
                with self._lock:
                    self._spares.append(spare)
            needed = HEADER.size + RECORD.size + need_bytes
            spare = self._new_segment(max(self.segment_bytes, needed))  # a few times after start
        self._active = spare
        return old

    def retire(self, segment: Segment) -> None:
        """Its records are durable elsewhere: reset it (a new salt) and keep it as a spare."""
        segment.reset()
        with self._lock:
            self._spares.append(segment)

    @property
    def pending_bytes(self) -> int:
        return 0 if self._active is None else self._active.end - HEADER.size

    def close(self) -> None:
        with self._lock:
            for segment in (self._active, *self._spares):
                if segment is not None:
                    segment.close()
            self._active, self._spares = None, []
