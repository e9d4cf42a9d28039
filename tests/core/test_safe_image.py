"""Safe image decoding: allow-list, magic bytes, pixel limit before decoding, normalisation."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from dda.core.errors import InvalidInput, NotFound
from dda.core.safe_image import (
    ALLOWED_FORMATS,
    DEFAULT_MAX_PIXELS,
    MAX_PIXELS_CEILING,
    ImageInfo,
    decode_image,
    detect_image_type,
    encode_jpeg,
    encode_png,
    probe_image,
)

MiB = 1024 * 1024


# --------------------------------------------------------------------------- builders


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _zero_rgb_idat(width: int, height: int) -> bytes:
    """A valid zlib stream of ``height`` all-zero RGB rows, built without compressing them all.

    After a full flush deflate forgets its history, so every further identical block compresses to
    identical bytes: compress one block of rows and repeat its output. The adler32 of n zero bytes
    is (n mod 65521) << 16 | 1, so the trailer needs no pass over the data either.
    """
    row_bytes = 1 + 3 * width  # filter byte + pixels
    rows_per_block = 100 if height % 100 == 0 else 1
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(row_bytes * rows_per_block)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = compressor.flush()  # empty final block
    adler = ((row_bytes * height) % 65521) << 16 | 1
    blocks = height // rows_per_block
    return b"\x78\xda" + first + repeat * (blocks - 1) + final + struct.pack(">I", adler)


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)


def _zero_png(width: int, height: int) -> bytes:
    """A complete, valid all-black RGB PNG of any size, a few MB even at 30000x30000."""
    idat = _zero_rgb_idat(width, height)
    chunks = [_png_chunk(b"IDAT", idat[i : i + MiB]) for i in range(0, len(idat), MiB)]
    return _png_header(width, height) + b"".join(chunks) + _png_chunk(b"IEND", b"")


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _gradient(height: int = 30, width: int = 40) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs * 6, ys * 8, (xs + ys) * 3], axis=2).astype(np.uint8)


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF"])
def test_lossless_formats_round_trip_exactly(fmt: str) -> None:
    array = _gradient()
    decoded = decode_image(_encode(Image.fromarray(array), fmt))
    assert decoded.dtype == np.uint8 and decoded.shape == (30, 40, 3)
    assert np.array_equal(decoded, array)
    assert decoded.flags["C_CONTIGUOUS"]


def test_jpeg_decodes_close_to_original() -> None:
    array = _gradient()
    decoded = decode_image(_encode(Image.fromarray(array), "JPEG", quality=95))
    assert decoded.shape == array.shape
    assert np.abs(decoded.astype(int) - array.astype(int)).mean() < 3


def test_greyscale_mode_returns_2d() -> None:
    array = _gradient()
    grey = decode_image(_encode(Image.fromarray(array), "PNG"), mode="L")
    assert grey.shape == (30, 40) and grey.dtype == np.uint8
    assert np.array_equal(grey, np.asarray(Image.fromarray(array).convert("L")))


def test_decodes_from_path_by_content_not_extension(tmp_path: Path) -> None:
    path = tmp_path / "really-a-png.jpg"
    path.write_bytes(_encode(Image.fromarray(_gradient()), "PNG"))
    assert np.array_equal(decode_image(path), _gradient())
    assert probe_image(path).format == "PNG"


def test_missing_path_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        decode_image(tmp_path / "nope.png")


# --------------------------------------------------------------------------- allow-list


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("GIF", "GIF"), ("WEBP", "WEBP"), ("ICO", "ICO"), ("PDF", "PDF")],
)
def test_formats_outside_the_allow_list_are_refused_by_name(fmt: str, name: str, tmp_path: Path) -> None:
    if fmt not in Image.SAVE:
        pytest.skip(f"this Pillow build cannot write {fmt}")
    data = _encode(Image.fromarray(_gradient()), fmt)
    path = tmp_path / "disguised.png"  # the extension must not matter
    path.write_bytes(data)
    for source in (data, path):
        with pytest.raises(InvalidInput) as info:
            decode_image(source)
        assert f"a {name} file" in info.value.message
        assert "JPEG, PNG, BMP, TIFF" in info.value.message


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, this is text", b"\x00" * 64, b"#!/bin/sh\nrm -rf /\n"],
)
def test_unknown_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput, match="unrecognised file type"):
        decode_image(data)
    with pytest.raises(InvalidInput, match="unrecognised file type"):
        probe_image(data)


def test_detect_image_type_knows_allowed_and_foreign_types() -> None:
    assert detect_image_type(b"\xff\xd8\xff\xe0rest") == "JPEG"
    assert detect_image_type(b"II*\x00....") == "TIFF"
    assert detect_image_type(b"MM\x00*....") == "TIFF"
    assert detect_image_type(b"GIF89a...") == "GIF"
    assert detect_image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "WEBP"
    assert detect_image_type(b"nothing known") is None
    assert ALLOWED_FORMATS == ("JPEG", "PNG", "BMP", "TIFF")


# --------------------------------------------------------------------------- corrupt input


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "TIFF"])
def test_truncated_images_are_refused(fmt: str) -> None:
    data = _encode(Image.fromarray(_gradient(120, 160)), fmt)
    with pytest.raises(InvalidInput, match="truncated or corrupt"):
        decode_image(data[: len(data) // 2])


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"garbage" * 10,
        b"\xff\xd8\xff" + b"\x00" * 40,
        b"BM" + b"\xff" * 60,
        b"II*\x00" + b"\xff" * 60,
    ],
)
def test_corrupt_headers_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput, match="truncated or corrupt"):
        decode_image(data)


def test_png_with_bad_checksum_is_refused() -> None:
    data = bytearray(_encode(Image.fromarray(_gradient()), "PNG"))
    data[-20] ^= 0xFF  # inside the last IDAT chunk
    with pytest.raises(InvalidInput, match="truncated or corrupt"):
        decode_image(bytes(data))


# --------------------------------------------------------------------------- pixel limit


def test_zero_png_builder_makes_a_valid_png() -> None:
    """Guards the big-image tests: the cheap builder really produces decodable files."""
    decoded = decode_image(_zero_png(300, 200))
    assert decoded.shape == (200, 300, 3) and not decoded.any()
    decoded = decode_image(_zero_png(7, 3))
    assert decoded.shape == (3, 7, 3)


def test_pixel_limit_is_checked_before_decoding() -> None:
    data = _zero_png(200, 100)
    with pytest.raises(InvalidInput) as info:
        decode_image(data, max_pixels=19_999)
    assert "200x100 = 20,000 pixels" in info.value.message
    assert "19,999-pixel limit" in info.value.message
    assert decode_image(data, max_pixels=20_000).shape == (100, 200, 3)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_image_just_over_the_default_limit_is_refused_from_its_header() -> None:
    # A header with a truncated pixel stream: refused for its size, so it was never decoded.
    data = _png_header(10_001, 10_000) + _png_chunk(b"IDAT", b"\x78\xda") + _png_chunk(b"IEND", b"")
    with pytest.raises(InvalidInput, match="over the 100,000,000-pixel limit"):
        decode_image(data)
    assert DEFAULT_MAX_PIXELS == 100_000_000


def test_huge_png_is_refused_without_decoding_or_memory_growth_in_process() -> None:
    data = _zero_png(30_000, 30_000)
    assert len(data) < 5 * MiB  # 2.7 GB of pixels behind a few MB of file
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput, match=r"too large|pixel"):
            decode_image(data, max_pixels=MAX_PIXELS_CEILING)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * len(data) + 16 * MiB


_RSS_SCRIPT = """
import json, sys
from pathlib import Path
from dda.core.errors import InvalidInput
from dda.core.safe_image import decode_image

def peak_rss():
    # VmHWM belongs to this exec'd image; ru_maxrss would carry over the forking parent's peak.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")

before = peak_rss()
try:
    shape = list(decode_image(Path(sys.argv[1])).shape)
    outcome = None
except InvalidInput as exc:
    shape, outcome = None, exc.message
print(json.dumps({"growth": peak_rss() - before, "refused": outcome, "shape": shape}))
"""


def _decode_in_fresh_process(path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units are platform-specific")
def test_30000x30000_png_is_refused_without_large_memory_use(tmp_path: Path) -> None:
    """Peak RSS of a fresh process barely moves while refusing a valid 30000x30000 PNG.

    The control decodes a 4000x4000 PNG in the same way and must show the growth the measurement
    is meant to catch, so the assertion on the big image cannot pass vacuously.
    """
    huge = tmp_path / "huge.png"
    huge.write_bytes(_zero_png(30_000, 30_000))
    refused = _decode_in_fresh_process(huge)
    assert refused["refused"] and refused["shape"] is None
    assert isinstance(refused["growth"], int) and refused["growth"] < 32 * MiB

    control = tmp_path / "control.png"
    control.write_bytes(_zero_png(4_000, 4_000))
    decoded = _decode_in_fresh_process(control)
    assert decoded["shape"] == [4_000, 4_000, 3]
    assert isinstance(decoded["growth"], int) and decoded["growth"] > 40 * MiB


def test_max_pixels_outside_the_supported_range_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="max_pixels"):
        decode_image(_zero_png(4, 4), max_pixels=MAX_PIXELS_CEILING + 1)
    with pytest.raises(ValueError, match="max_pixels"):
        decode_image(_zero_png(4, 4), max_pixels=0)


# --------------------------------------------------------------------------- probe


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_probe_reads_only_the_header() -> None:
    # 9000x9000 with a pixel stream that would fail to decode: probing must not touch it.
    data = _png_header(9_000, 9_000) + _png_chunk(b"IDAT", b"\x78\xda") + _png_chunk(b"IEND", b"")
    info = probe_image(data)
    assert info == ImageInfo(format="PNG", width=9_000, height=9_000, mode="RGB", orientation=1)
    assert info.pixels == 81_000_000
    with pytest.raises(InvalidInput, match="truncated or corrupt"):
        decode_image(data)


@pytest.mark.parametrize(("fmt", "mode"), [("JPEG", "RGB"), ("BMP", "RGB"), ("TIFF", "RGB"), ("PNG", "RGBA")])
def test_probe_reports_format_size_and_mode(fmt: str, mode: str) -> None:
    image = Image.new(mode, (64, 48))
    info = probe_image(_encode(image, fmt))
    assert (info.format, info.width, info.height, info.mode) == (fmt, 64, 48, mode)


# --------------------------------------------------------------------------- normalisation


def _with_orientation(image: Image.Image, orientation: int, fmt: str) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(image, fmt, exif=exif.tobytes())


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_pillow(orientation: int) -> None:
    rng = np.random.default_rng(orientation)
    image = Image.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8))
    data = _with_orientation(image, orientation, "PNG")
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    decoded = decode_image(data)
    assert np.array_equal(decoded, expected)
    assert decoded.shape == ((7, 5, 3) if orientation >= 5 else (5, 7, 3))
    info = probe_image(data)
    assert info.orientation == orientation
    assert info.oriented_size == (decoded.shape[1], decoded.shape[0])


def test_exif_orientation_in_jpeg_rotates_the_image() -> None:
    array = np.zeros((40, 60, 3), dtype=np.uint8)
    array[:10, :10] = 255  # white top-left corner
    data = _with_orientation(Image.fromarray(array), 6, "JPEG")  # 6: rotate 90 degrees clockwise to view
    decoded = decode_image(data)
    assert decoded.shape == (60, 40, 3)
    assert decoded[:10, -10:].mean() > 200  # top-left corner moved to the top-right
    assert decoded[:10, :10].mean() < 50


def test_sixteen_bit_greyscale_is_scaled_to_eight_bits() -> None:
    values = np.array([[0, 65535, 7 * 256 + 200, 128 * 256]], dtype=np.uint16)
    data = _encode(Image.fromarray(values), "PNG")
    assert probe_image(data).mode.startswith("I")
    assert decode_image(data, mode="L").tolist() == [[0, 255, 7, 128]]
    rgb = decode_image(data)
    assert rgb.shape == (1, 4, 3) and rgb[0, :, 0].tolist() == [0, 255, 7, 128]
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


def test_rgba_palette_greyscale_bilevel_and_cmyk_become_rgb() -> None:
    rgba = Image.new("RGBA", (3, 2), (10, 20, 30, 0))
    assert decode_image(_encode(rgba, "PNG"))[0, 0].tolist() == [10, 20, 30]  # alpha dropped

    palette = Image.new("RGB", (3, 2), (200, 100, 50)).quantize(colors=4)
    assert decode_image(_encode(palette, "PNG"))[1, 2].tolist() == [200, 100, 50]

    transparent = palette.copy()
    transparent.info["transparency"] = 0
    assert decode_image(_encode(transparent, "PNG")).shape == (2, 3, 3)

    grey = Image.new("L", (3, 2), 77)
    assert decode_image(_encode(grey, "PNG"))[0, 0].tolist() == [77, 77, 77]
    grey_alpha = Image.new("LA", (3, 2), (90, 10))
    assert decode_image(_encode(grey_alpha, "PNG"), mode="L")[0, 0] == 90

    bilevel = Image.new("1", (3, 2), 1)
    assert decode_image(_encode(bilevel, "PNG"))[0, 0].tolist() == [255, 255, 255]

    cmyk = Image.new("CMYK", (8, 8), (0, 0, 0, 0))  # no ink: white
    assert decode_image(_encode(cmyk, "JPEG", quality=95)).min() > 245


def test_float_tiff_is_refused_with_a_fix() -> None:
    data = _encode(Image.fromarray(np.ones((2, 2), dtype=np.float32)), "TIFF")
    with pytest.raises(InvalidInput, match="floating-point") as info:
        decode_image(data)
    assert info.value.hint and "16-bit" in info.value.hint


# --------------------------------------------------------------------------- encoding


def test_encode_png_and_jpeg_round_trip() -> None:
    array = _gradient()
    assert np.array_equal(decode_image(encode_png(array)), array)
    assert np.array_equal(decode_image(encode_png(array[:, :, 0]), mode="L"), array[:, :, 0])
    rgba = np.dstack([array, np.full(array.shape[:2], 255, np.uint8)])
    assert np.array_equal(decode_image(encode_png(rgba)), array)
    jpeg = encode_jpeg(array, quality=95)
    assert jpeg.startswith(b"\xff\xd8\xff")
    assert np.abs(decode_image(jpeg).astype(int) - array.astype(int)).mean() < 3
    assert len(encode_jpeg(array, quality=20)) < len(jpeg)


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((4, 4, 3), dtype=np.float32),
        np.zeros((4, 4, 2), dtype=np.uint8),
        np.zeros((4,), dtype=np.uint8),
        np.zeros((0, 4, 3), dtype=np.uint8),
    ],
)
def test_encoders_refuse_unsupported_arrays(array: np.ndarray) -> None:
    with pytest.raises(InvalidInput):
        encode_png(array)
    with pytest.raises(InvalidInput):
        encode_jpeg(array)


def test_encode_jpeg_refuses_rgba_and_bad_quality() -> None:
    with pytest.raises(InvalidInput, match="shape"):
        encode_jpeg(np.zeros((4, 4, 4), dtype=np.uint8))
    with pytest.raises(InvalidInput, match="quality"):
        encode_jpeg(np.zeros((4, 4, 3), dtype=np.uint8), quality=0)


def test_memory_budget_refuses_from_the_header_before_decoding() -> None:
    """A small file that would decode to far more than the budget is refused without decoding."""
    from dda.core.safe_image import decode_memory

    data = encode_png(np.zeros((1200, 1500, 3), dtype=np.uint8))
    need = decode_memory(1500, 1200, "RGB")
    assert need == 1500 * 1200 * (4 + 0 + 3)
    with pytest.raises(InvalidInput, match="budget"):
        decode_image(data, max_bytes=need - 1)
    assert decode_image(data, max_bytes=need).shape == (1200, 1500, 3)
    assert decode_memory(10, 10, "L", mode="RGB") == 100 * (1 + 4 + 3)
