"""File upload: images arrive through the API (the Run button's file, or POST .../capture)."""

from __future__ import annotations

import collections
import threading
from typing import Literal

from dda.core.errors import Unavailable
from dda.station.imaging import decode_upload
from dda.station.plugins.processing import CameraSettings
from dda.station.plugins.sources.base import Frame, NoFrameYet, SourceConfigBase


class UploadSourceConfig(SourceConfigBase):
    title = "File upload"
    type: Literal["upload"] = "upload"


class UploadSource:
    """Holds uploaded images until a trigger takes them (at most ``capacity``, oldest first)."""

    def __init__(self, config: UploadSourceConfig, capacity: int = 16) -> None:
        self.config = config
        self.live = False
        self._queue: collections.deque[Frame] = collections.deque(maxlen=capacity)
        self._ready = threading.Condition()
        self._closed = False

    def open(self) -> None:
        self._closed = False

    def configure(self, camera: CameraSettings) -> frozenset[str]:
        return frozenset()

    def push(self, data: bytes, origin: str = "upload") -> None:
        """Queue an uploaded image; decoding first rejects anything that is not a safe image."""
        frame = decode_upload(data, origin)
        with self._ready:
            self._queue.append(frame)
            self._ready.notify()

    def grab(self, timeout_s: float) -> Frame:
        with self._ready:
            if not self._ready.wait_for(lambda: self._queue or self._closed, timeout=timeout_s):
                raise NoFrameYet(
                    "no uploaded image is waiting on this upload source",
                    hint="send an image file with the request (multipart field 'file')",
                )
            if self._closed:
                raise Unavailable("the upload source was closed")
            return self._queue.popleft()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()
