"""Safe image decoding for untrusted bytes (uploads, camera frames, dataset files).

Every decode goes through three gates before a single pixel is decompressed:

1. **Magic bytes.** The first bytes must be one of the allowed formats (:data:`ALLOWED_FORMATS`:
   JPEG, PNG, BMP, TIFF). Anything else is refused with the detected type named, whatever the
   file name or content type claims.
2. **Header only.** Pillow's ``Image.open`` parses the header and nothing more, and it is restricted
   to the one plugin the magic bytes selected.
3. **Pixel limit.** ``width * height`` from the header is checked against ``max_pixels``
   (:data:`DEFAULT_MAX_PIXELS`, 100 MP). A 30000x30000 PNG is refused here, before any memory for
   its pixels is allocated.

Pillow's own decompression-bomb guard stays on as a second line of defence: importing this module
sets ``PIL.Image.MAX_IMAGE_PIXELS`` to :data:`DEFAULT_MAX_PIXELS`, so Pillow itself refuses images
above :data:`MAX_PIXELS_CEILING` (twice that) for every Pillow user in the process; ``max_pixels``
may therefore be raised up to that ceiling and no further.

Decoded images are normalised: EXIF orientation is applied, 16-bit greyscale is scaled to 8 bits,
palette, greyscale, CMYK and alpha images become RGB (alpha is dropped, not composited), and the
result is a C-contiguous ``uint8`` array, HxWx3 for ``mode="RGB"`` or HxW for ``mode="L"``.
Truncated or corrupt files raise :class:`~dda.core.errors.InvalidInput`.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from dda.core.errors import InvalidInput, NotFound

ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "BMP", "TIFF")
DEFAULT_MAX_PIXELS = 100_000_000
MAX_PIXELS_CEILING = 2 * DEFAULT_MAX_PIXELS

# Pillow warns above MAX_IMAGE_PIXELS and raises DecompressionBombError above twice it.
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS

ImageMode = Literal["RGB", "L"]

# (offset, magic, name). Formats outside the allow-list are listed so refusals can name them.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"II+\x00", "TIFF"),  # BigTIFF
    (0, b"MM\x00+", "TIFF"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (8, b"WEBP", "WEBP"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (4, b"ftypavif", "AVIF"),
    (0, b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (0, b"\xff\x4f\xff\x51", "JPEG 2000"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"8BPS", "PSD"),
    (0, b"qoif", "QOI"),
    (0, b"DDS ", "DDS"),
    (0, b"v/1\x01", "OpenEXR"),
    (0, b"%PDF", "PDF"),
    (0, b"PK\x03\x04", "ZIP"),
    (0, b"\x1f\x8b", "GZIP"),
    (0, b"\x7fELF", "ELF executable"),
    (0, b"<svg", "SVG"),
    (0, b"<?xml", "XML/SVG"),
)
_HEADER_BYTES = 32

# EXIF orientation tag value -> the transpose that undoes it.
_ORIENTATION_TAG = 0x0112
_ORIENTATION_FIX: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
# What Pillow raises (from Python or its C decoders) on malformed files.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    IndexError,
    KeyError,
    TypeError,
)


@dataclass(frozen=True)
class ImageInfo:
    """What an image header says, without decoding any pixels.

    ``width`` and ``height`` are as stored; ``orientation`` is the EXIF orientation (1 when absent),
    and :attr:`oriented_size` is the size :func:`decode_image` returns after applying it.
    """

    format: str
    width: int
    height: int
    mode: str
    orientation: int = 1

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def oriented_size(self) -> tuple[int, int]:
        """(width, height) after EXIF orientation; orientations 5-8 swap the axes."""
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height


def detect_image_type(head: bytes) -> str | None:
    """Name the file type its first bytes announce (allowed or not), or None when unknown."""
    for offset, magic, name in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return name
    return None


def probe_image(data: bytes | Path) -> ImageInfo:
    """Read format, size, mode and EXIF orientation from the header only; no pixels are decoded."""
    with _open_checked(data) as (image, fmt):
        return ImageInfo(
            format=fmt,
            width=image.width,
            height=image.height,
            mode=image.mode,
            orientation=_orientation(image, allow_load=False),
        )


def decode_image(
    data: bytes | Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    mode: ImageMode = "RGB",
    max_bytes: int | None = None,
) -> np.ndarray:
    """Decode an untrusted JPEG/PNG/BMP/TIFF into a uint8 array (HxWx3 RGB or HxW greyscale).

    Raises InvalidInput for a disallowed or unknown format, an image over ``max_pixels`` or whose
    decode would need more than ``max_bytes`` of memory (both checked from the header, before
    decoding: see :func:`decode_memory`), and truncated or corrupt data; NotFound for a missing path.
    """
    if not 1 <= max_pixels <= MAX_PIXELS_CEILING:
        raise ValueError(f"max_pixels must be between 1 and {MAX_PIXELS_CEILING:,}, got {max_pixels:,}")
    if mode not in ("RGB", "L"):
        raise ValueError(f"mode must be 'RGB' or 'L', got {mode!r}")
    with _open_checked(data) as (image, fmt):
        _check_pixels(image, fmt, max_pixels)
        if max_bytes is not None:
            _check_memory(image, fmt, mode, max_bytes)
        try:
            image.load()
            orientation = _orientation(image, allow_load=True)
            array = _to_array(image, mode, fmt)
        except _DECODE_ERRORS as exc:
            raise _corrupt(fmt, exc) from exc
    fix = _ORIENTATION_FIX.get(orientation)
    if fix is not None:
        array = _apply_orientation(array, fix)
    return np.ascontiguousarray(array)


def encode_jpeg(array: np.ndarray, quality: int = 90) -> bytes:
    """Encode a uint8 HxW or HxWx3 (RGB) array as baseline JPEG bytes."""
    if not 1 <= quality <= 100:
        raise InvalidInput(
            f"JPEG quality must be 1-100, got {quality}", hint="use 85-95 for inspection images"
        )
    image = _array_to_image(array, channels=(1, 3), what="JPEG")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def encode_png(array: np.ndarray) -> bytes:
    """Encode a uint8 HxW, HxWx3 (RGB) or HxWx4 (RGBA) array as PNG bytes (lossless)."""
    image = _array_to_image(array, channels=(1, 3, 4), what="PNG")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# --------------------------------------------------------------------------- internals


@contextmanager
def _open_checked(data: bytes | Path) -> Iterator[tuple[Image.Image, str]]:
    """Check the magic bytes, then let the one matching Pillow plugin parse the header."""
    with _binary_source(data) as stream:
        head = stream.read(_HEADER_BYTES)
        detected = detect_image_type(head)
        if detected not in ALLOWED_FORMATS:
            raise _not_allowed(detected, head)
        stream.seek(0)
        try:
            image = Image.open(stream, formats=[detected])
        except Image.DecompressionBombError as exc:
            raise InvalidInput(
                f"{detected} image is too large to decode safely: {exc}",
                hint=f"images may have at most {MAX_PIXELS_CEILING:,} pixels; downscale it first",
            ) from exc
        except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
            raise _corrupt(detected, exc) from exc
        with image:
            yield image, detected


@contextmanager
def _binary_source(data: bytes | Path) -> Iterator[BinaryIO]:
    if isinstance(data, bytes | bytearray | memoryview):
        yield io.BytesIO(bytes(data))
        return
    path = Path(data)
    if not path.is_file():
        raise NotFound(f"image file {path} does not exist or is not a file", hint="check the path")
    with path.open("rb") as handle:
        yield handle


def _check_pixels(image: Image.Image, fmt: str, max_pixels: int) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise InvalidInput(f"{fmt} header declares an empty image ({width}x{height})", hint="re-export it")
    pixels = width * height
    if pixels > max_pixels:
        raise InvalidInput(
            f"{fmt} image is {width}x{height} = {pixels:,} pixels, over the {max_pixels:,}-pixel limit",
            hint="downscale or crop the image before uploading it, or raise max_pixels",
        )


# Bytes per pixel Pillow holds for a mode while decoding (RGB and friends are stored 4 wide).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 4, "PA": 4, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


def decode_memory(width: int, height: int, pil_mode: str, mode: ImageMode = "RGB") -> int:
    """Peak bytes a decode takes: Pillow's pixel buffer (pixels x bands x bytes per band), a
    converted copy when the mode changes, and the output array (pixels x channels)."""
    pixels = width * height
    stored = _MODE_BYTES.get(pil_mode, 4)
    out_channels = 3 if mode == "RGB" else 1
    converted = 0 if pil_mode == mode else 4
    return pixels * (stored + converted + out_channels)


def _check_memory(image: Image.Image, fmt: str, mode: ImageMode, max_bytes: int) -> None:
    width, height = image.size
    need = decode_memory(width, height, image.mode, mode)
    if need > max_bytes:
        raise InvalidInput(
            f"{fmt} image is {width}x{height} ({image.mode}); decoding it would take "
            f"{need / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB budget per image",
            hint="downscale or crop the image before sending it",
        )


def _orientation(image: Image.Image, *, allow_load: bool) -> int:
    """EXIF orientation 1-8; 1 when absent or unreadable (a broken EXIF block is not fatal)."""
    if not allow_load and image.format == "PNG" and "exif" not in image.info:
        return 1  # Pillow would decode the whole PNG to look for an eXIf chunk after the pixels.
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except _DECODE_ERRORS:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _to_array(image: Image.Image, mode: ImageMode, fmt: str) -> np.ndarray:
    if image.mode in _SIXTEEN_BIT_MODES:
        grey = np.asarray(image)
        # 16-bit sensors use the full 0-65535 range; keep the top 8 bits.
        grey8 = (np.clip(grey, 0, 65535).astype(np.uint32) >> 8).astype(np.uint8)
        return grey8 if mode == "L" else np.repeat(grey8[:, :, None], 3, axis=2)
    if image.mode == "F":
        raise InvalidInput(
            f"{fmt} image holds 32-bit floating-point pixels, which have no defined display range",
            hint="export it as 8- or 16-bit integer TIFF/PNG",
        )
    if image.mode != mode:
        if "A" in image.mode or "a" in image.mode or "transparency" in image.info:
            image = image.convert("RGBA")  # alpha is dropped by the conversion below
        image = image.convert(mode)
    return np.array(image, dtype=np.uint8)


def _apply_orientation(array: np.ndarray, fix: Image.Transpose) -> np.ndarray:
    """Apply the EXIF fix on the array (cheaper than a Pillow round trip, same result)."""
    if fix is Image.Transpose.FLIP_LEFT_RIGHT:
        return array[:, ::-1]
    if fix is Image.Transpose.FLIP_TOP_BOTTOM:
        return array[::-1]
    if fix is Image.Transpose.ROTATE_180:
        return array[::-1, ::-1]
    if fix is Image.Transpose.ROTATE_90:  # counter-clockwise
        return np.rot90(array, 1)
    if fix is Image.Transpose.ROTATE_270:
        return np.rot90(array, -1)
    swapped = np.swapaxes(array, 0, 1)
    if fix is Image.Transpose.TRANSPOSE:
        return swapped
    return swapped[::-1, ::-1]  # TRANSVERSE


def _array_to_image(array: np.ndarray, *, channels: tuple[int, ...], what: str) -> Image.Image:
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8:
        got = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
        raise InvalidInput(
            f"{what} encoding needs a uint8 numpy array, got {got}", hint="convert with .astype(np.uint8)"
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    depth = 1 if array.ndim == 2 else (array.shape[2] if array.ndim == 3 else 0)
    if depth not in channels or array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidInput(
            f"cannot encode an array of shape {array.shape} as {what}",
            hint=f"pass HxW or HxWxC with C in {channels} and non-zero height and width",
        )
    return Image.fromarray(np.ascontiguousarray(array))


def _not_allowed(detected: str | None, head: bytes) -> InvalidInput:
    allowed = ", ".join(ALLOWED_FORMATS)
    if detected is None:
        what = f"an unrecognised file type (first bytes: {head[:8].hex(' ') or 'none, the file is empty'})"
    else:
        what = f"a {detected} file"
    return InvalidInput(
        f"this is {what}; allowed image formats are {allowed}", hint=f"convert it to one of {allowed}"
    )


def _corrupt(fmt: str, exc: BaseException) -> InvalidInput:
    return InvalidInput(
        f"{fmt} image is truncated or corrupt: {exc}",
        hint="re-export or re-capture the image; the file could not be decoded",
    )
