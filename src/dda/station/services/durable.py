"""Durable file writes: a file is on disk (data and directory entry) before the call returns."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Persist a directory's entries (new, renamed or removed files)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> int:
    """Write ``data`` to ``path`` through a temporary name, fsync it, rename it into place.

    The caller fsyncs the directory once after its last file (see :func:`fsync_dir`).
    Returns the number of bytes written.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return len(data)


def make_dirs_durable(path: Path, root: Path) -> None:
    """Create ``path`` (under ``root``) and fsync each parent whose entries changed."""
    missing: list[Path] = []
    current = path
    while not current.exists() and current != root:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        fsync_dir(directory.parent)
