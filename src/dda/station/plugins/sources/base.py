"""The image source family: one Protocol every source implementation meets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict

from dda.core.errors import Unavailable
from dda.station.plugins.processing import CameraSettings


class NoFrameYet(Unavailable):
    """``grab`` timed out: the source is fine but had nothing new (empty folder, no upload)."""

    code = "no_frame"


class SourceConfigBase(BaseModel):
    """Common base of every source config; ``title`` names the plugin in the UI."""

    model_config = ConfigDict(extra="forbid")
    title: ClassVar[str] = ""


@dataclass
class Frame:
    """One image from a source: RGB uint8 [H, W, 3], plus the original file bytes when there were any."""

    image: np.ndarray
    encoded: bytes | None = None  # JPEG/PNG bytes as received; stored as-is instead of re-encoding
    encoded_format: str | None = None  # "jpeg" | "png"
    origin: str = ""  # file name, camera id or URL, for logs and the result record
    captured_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ImageSourcePlugin(Protocol):
    """A camera or other image input.

    ``open`` connects, ``configure`` applies camera settings and returns the names of those it
    applied in hardware (``exposure``, ``gain``, ``roi``) so the station does the rest in software,
    ``grab`` returns the next frame (blocking at most ``timeout_s``), ``close`` releases the device.
    A source is used from one thread at a time; ``close`` may be called from another to unblock it.
    ``live``: the source produces frames whether read or not (a camera stream), so old ones go stale.
    """

    live: bool

    def open(self) -> None: ...

    def configure(self, camera: CameraSettings) -> frozenset[str]: ...

    def grab(self, timeout_s: float) -> Frame: ...

    def close(self) -> None: ...


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Gray [H, W] or [H, W, 1] and RGBA become RGB uint8 (models take 3 channels)."""
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 4:
        image = image[..., :3]
    if image.dtype != np.uint8:
        image = image.clip(0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)
