"""OpenCV: a USB camera (device index), an RTSP/HTTP stream or a video file."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

import cv2
from pydantic import Field, model_validator

from dda.core.errors import InvalidInput, NotFound, Unavailable
from dda.station.plugins.processing import CameraSettings
from dda.station.plugins.sources.base import Frame, NoFrameYet, SourceConfigBase, to_rgb

STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")


class OpenCVSourceConfig(SourceConfigBase):
    title = "USB camera / RTSP / video file (OpenCV)"
    type: Literal["opencv"] = "opencv"
    device: int | None = Field(None, ge=0, le=63, description="USB camera index (/dev/videoN)")
    url: str | None = Field(None, description="rtsp://, http(s):// stream, or a video file path")
    loop: bool = Field(True, description="Restart a video file at its end")

    @model_validator(mode="after")
    def _one_input(self) -> OpenCVSourceConfig:
        if (self.device is None) == (self.url is None):
            raise ValueError("set exactly one of 'device' (USB index) or 'url' (stream URL or video file)")
        return self

    @property
    def is_file(self) -> bool:
        return self.url is not None and not self.url.lower().startswith(STREAM_SCHEMES)


class OpenCVSource:
    def __init__(self, config: OpenCVSourceConfig) -> None:
        self.config = config
        self.live = not config.is_file
        self._capture: cv2.VideoCapture | None = None
        self._lock = threading.Lock()

    @property
    def _target(self) -> str:
        return f"/dev/video{self.config.device}" if self.config.device is not None else str(self.config.url)

    def open(self) -> None:
        if self.config.is_file and not Path(str(self.config.url)).expanduser().is_file():
            raise NotFound(f"video file {self.config.url} does not exist", hint="fix the source's url")
        target: int | str
        if self.config.device is not None:
            target = self.config.device
        elif self.config.is_file:
            target = str(Path(str(self.config.url)).expanduser())
        else:
            target = str(self.config.url)
        capture = cv2.VideoCapture(target)
        if not capture.isOpened():
            capture.release()
            raise Unavailable(
                f"OpenCV could not open {self._target}",
                hint="check the camera is plugged in / the stream URL answers / the file is a video",
            )
        if self.live:
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # a triggered grab should not read a queued old frame
        self._capture = capture

    def configure(self, camera: CameraSettings) -> frozenset[str]:
        capture = self._require_open()
        applied: set[str] = set()
        # UVC drivers take these in their own units; a False answer means the camera ignores it.
        if camera.exposure_us is not None and capture.set(cv2.CAP_PROP_EXPOSURE, camera.exposure_us):
            applied.add("exposure")
        if camera.gain is not None and capture.set(cv2.CAP_PROP_GAIN, camera.gain):
            applied.add("gain")
        return frozenset(applied)

    def _require_open(self) -> cv2.VideoCapture:
        if self._capture is None:
            raise Unavailable(f"the OpenCV source {self._target} is not open", hint="open it first")
        return self._capture

    def grab(self, timeout_s: float) -> Frame:
        with self._lock:
            capture = self._require_open()
            ok, bgr = capture.read()
            if not ok and self.config.is_file and self.config.loop:
                capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, bgr = capture.read()
        if not ok or bgr is None:
            if self.config.is_file:
                raise NoFrameYet(f"video file {self.config.url} has no more frames", hint="set loop: true")
            raise Unavailable(f"no frame from {self._target}", hint="check the camera or stream")
        if bgr.ndim != 3 or bgr.shape[2] != 3:
            raise InvalidInput(f"{self._target} delivered an image of shape {bgr.shape}")
        return Frame(image=to_rgb(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)), origin=self._target)

    def close(self) -> None:
        with self._lock:
            if self._capture is not None:
                self._capture.release()
                self._capture = None
