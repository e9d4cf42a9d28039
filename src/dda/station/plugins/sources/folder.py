"""Folder: takes images dropped into a directory, oldest first, and moves each one aside when taken."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from dda.core.errors import InvalidInput, NotFound, Unavailable
from dda.station.imaging import decode_file
from dda.station.plugins.processing import CameraSettings
from dda.station.plugins.sources.base import Frame, NoFrameYet, SourceConfigBase

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
PROCESSED_DIR = "processed"
FAILED_DIR = "failed"


class FolderSourceConfig(SourceConfigBase):
    title = "Folder"
    type: Literal["folder"] = "folder"
    path: str = Field(..., min_length=1, description="Directory watched for new JPEG/PNG images")
    poll_interval_s: float = Field(0.2, gt=0, le=60)
    min_age_s: float = Field(
        0.5, ge=0, le=60, description="Skip files modified more recently (still being written)"
    )


class FolderSource:
    """Oldest file first (by modification time); taken files go to ``processed/``, unreadable ones to
    ``failed/`` so one bad file cannot block the queue."""

    def __init__(self, config: FolderSourceConfig) -> None:
        self.config = config
        self.live = False
        self.folder = Path(config.path).expanduser()
        self._closed = threading.Event()

    def open(self) -> None:
        if not self.folder.is_dir():
            raise NotFound(
                f"the watched folder {self.folder} does not exist",
                hint="create it or edit the image source's path",
            )
        (self.folder / PROCESSED_DIR).mkdir(exist_ok=True)
        self._closed.clear()

    def configure(self, camera: CameraSettings) -> frozenset[str]:
        return frozenset()

    def _oldest_ready(self) -> Path | None:
        now = time.time()
        candidates = []
        for entry in self.folder.iterdir():
            if entry.suffix.lower() not in IMAGE_SUFFIXES or not entry.is_file() or entry.is_symlink():
                continue
            mtime = entry.stat().st_mtime
            if now - mtime >= self.config.min_age_s:
                candidates.append((mtime, entry.name, entry))
        return min(candidates)[2] if candidates else None

    def _move(self, path: Path, subdir: str) -> None:
        target_dir = self.folder / subdir
        target_dir.mkdir(exist_ok=True)
        target = target_dir / path.name
        if target.exists():  # the same name dropped twice: keep both
            target = target_dir / f"{path.stem}-{time.time_ns()}{path.suffix}"
        path.replace(target)

    def grab(self, timeout_s: float) -> Frame:
        deadline = time.monotonic() + timeout_s
        while not self._closed.is_set():
            path = self._oldest_ready()
            if path is not None:
                try:
                    frame = decode_file(path)
                except InvalidInput:
                    self._move(path, FAILED_DIR)
                    raise
                self._move(path, PROCESSED_DIR)
                return frame
            if time.monotonic() >= deadline:
                break
            self._closed.wait(min(self.config.poll_interval_s, max(0.0, deadline - time.monotonic())))
        if self._closed.is_set():
            raise Unavailable(f"the folder source {self.folder} was closed")
        raise NoFrameYet(
            f"no image arrived in {self.folder} within {timeout_s:.1f} s",
            hint="drop JPEG or PNG files into the folder",
        )

    def close(self) -> None:
        self._closed.set()
