"""Image bytes in and out of the station.

Untrusted bytes (uploads, files dropped in a watched folder, downloads) are decoded only through
``dda.core.safe_image`` (size and pixel limits, format allow-list). Images the station made itself
are encoded with OpenCV, which is several times faster than Pillow for JPEG and fast PNG levels.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from dda.core.errors import InvalidInput, Unavailable
from dda.core.safe_image import decode_image, probe_image
from dda.station.memory import release_memory
from dda.station.plugins.sources.base import Frame, to_rgb

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DECODE_WAIT_S = 30.0


# What one image costs on its way through the station (decode, model input, anomaly map, overlay,
# mask, encoded files, the upload itself), per pixel: measured 30-44 B on RGB photos.
PIPELINE_BYTES_PER_PIXEL = 48


class MemoryPool:
    """A counted budget of bytes: callers reserve what their image will cost, and wait (or are
    told to retry) while the station is full."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._changed = threading.Condition()

    def reserve(self, amount: int, timeout_s: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.used + amount <= self.capacity, timeout_s) and (
                self._take(amount)
            )

    def _take(self, amount: int) -> bool:
        self.used += amount
        return True

    def release(self, amount: int) -> None:
        with self._changed:
            self.used -= amount
            self._changed.notify_all()


class DecodeLimits:
    """The station's memory limits for images (its settings): per decode, in flight, concurrency."""

    def __init__(self, budget_bytes: int = 64 * 2**20, concurrency: int = 2, pool_bytes: int = 224 * 2**20):
        self.budget_bytes = budget_bytes
        self.slots = threading.BoundedSemaphore(concurrency)
        self.uploads = threading.BoundedSemaphore(concurrency)  # upload bodies held in memory at once
        self.pool = MemoryPool(pool_bytes)


_limits = DecodeLimits()


def configure_decoding(budget_bytes: int, concurrency: int, pool_bytes: int) -> None:
    """Set the per-decode budget, concurrent decodes and the in-flight pool (at station start)."""
    global _limits
    _limits = DecodeLimits(budget_bytes, concurrency, pool_bytes)


@contextmanager
def pipeline_memory(data: bytes, origin: str) -> Iterator[None]:
    """Reserve what an uploaded image will cost through the pipeline, from its header alone;
    refuse an image that could never fit, wait while others use the pool."""
    info = probe_image(data)
    width, height = info.oriented_size
    cost = info.pixels * PIPELINE_BYTES_PER_PIXEL
    pool = _limits.pool
    if cost > pool.capacity:
        limit = pool.capacity // PIPELINE_BYTES_PER_PIXEL
        raise InvalidInput(
            f"{origin}: the image is {width}x{height} = {info.pixels:,} pixels; this station takes "
            f"at most {limit:,} pixels per image (station.upload_memory_mb)",
            hint="downscale or crop the image, or raise station.upload_memory_mb",
        )
    if not pool.reserve(cost, DECODE_WAIT_S):
        raise Unavailable("the station is busy with other images", hint="retry in a moment")
    try:
        yield
    finally:
        pool.release(cost)
        release_memory()


def sniff_format(data: bytes) -> str | None:
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if data.startswith(PNG_MAGIC):
        return "png"
    return None


@contextmanager
def upload_slot() -> Iterator[None]:
    """Hold one of the few places for an uploaded image in memory (read, decode, inference)."""
    uploads = _limits.uploads
    if not uploads.acquire(timeout=DECODE_WAIT_S):
        raise Unavailable("the station is busy with other uploads", hint="retry in a moment")
    try:
        yield
    finally:
        uploads.release()


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
