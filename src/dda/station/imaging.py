"""Image bytes in and out of the station.

Untrusted bytes (uploads, files dropped in a watched folder, downloads) are decoded only through
``dda.core.safe_image`` (size and pixel limits, format allow-list). Images the station made itself
are encoded with OpenCV, which is several times faster than Pillow for JPEG and fast PNG levels.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from dda.core.errors import InvalidInput, Unavailable
from dda.core.safe_image import decode_image
from dda.station.plugins.sources.base import Frame, to_rgb

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DECODE_WAIT_S = 30.0


class DecodeLimits:
    """How much memory one decode may take and how many run at once (the station's settings)."""

    def __init__(self, budget_bytes: int = 96 * 2**20, concurrency: int = 2) -> None:
        self.budget_bytes = budget_bytes
        self.slots = threading.BoundedSemaphore(concurrency)


_limits = DecodeLimits()


def configure_decoding(budget_bytes: int, concurrency: int) -> None:
    """Set the per-decode memory budget and the number of concurrent decodes (at station start)."""
    global _limits
    _limits = DecodeLimits(budget_bytes, concurrency)


def sniff_format(data: bytes) -> str | None:
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if data.startswith(PNG_MAGIC):
        return "png"
    return None


def decode_upload(data: bytes, origin: str) -> Frame:
    """Decode untrusted image bytes into a frame that keeps the original bytes for storage."""
    if not data:
        raise InvalidInput(f"{origin}: the image is empty", hint="send a JPEG or PNG file")
    limits = _limits
    if not limits.slots.acquire(timeout=DECODE_WAIT_S):
        raise Unavailable("the station is busy decoding other images", hint="retry in a moment")
    try:
        image = to_rgb(decode_image(data, max_bytes=limits.budget_bytes))
    finally:
        limits.slots.release()
    fmt = sniff_format(data)
    return Frame(image=image, encoded=data if fmt else None, encoded_format=fmt, origin=origin)


def decode_file(path: Path) -> Frame:
    return decode_upload(path.read_bytes(), path.name)


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """RGB uint8 -> JPEG bytes."""
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise InvalidInput("could not encode the image as JPEG", hint="check the image shape and dtype")
    return buf.tobytes()


def encode_png(image: np.ndarray, level: int = 1) -> bytes:
    """RGB or single-channel uint8 -> PNG bytes (level 1: masks are mostly zeros, so still small)."""
    data = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, buf = cv2.imencode(".png", data, [cv2.IMWRITE_PNG_COMPRESSION, level])
    if not ok:
        raise InvalidInput("could not encode the image as PNG", hint="check the image shape and dtype")
    return buf.tobytes()


def thumbnail_jpeg(image: np.ndarray, max_side: int = 1024) -> bytes:
    """A preview JPEG no larger than ``max_side`` on its long edge."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1:
        image = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return encode_jpeg(image, quality=85)
