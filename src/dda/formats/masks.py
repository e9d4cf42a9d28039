"""Segmentation masks: Ground Truth colour maps, colour -> class-id conversion, palette PNGs.

Ground Truth writes a mask as a (palette) PNG whose colours are listed in the job's
``internal-color-map`` (``{"0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"}, ...}``).
Trainers want a single-channel image of class ids instead. Real masks are messier than the spec:
the cookie set's masks are palette PNGs with a transparent black background, anti-aliased alpha
edges and a colour map that does not list the background at all. The rules here:

- a pixel whose alpha is below half is background;
- an opaque pixel takes the class whose colour is within ``COLOR_TOLERANCE`` of its own;
- any other opaque pixel is background, and counted as "unknown" (pure black and pure white are
  common unlisted backgrounds and are not counted).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

BACKGROUND = "background"
BACKGROUND_NAMES = frozenset({"background", "_background_", "bg", "backgrounds"})
COLOR_TOLERANCE = 12  # max per-channel difference still counted as the class colour
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")

RGB = tuple[int, int, int]

# Distinct, saturated colours for classes 1.. (class 0, the background, is white as in Ground Truth).
_CLASS_COLORS: tuple[RGB, ...] = (
    (35, 164, 54),
    (230, 25, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (128, 128, 0),
    (0, 0, 128),
    (170, 110, 40),
)
BACKGROUND_COLOR: RGB = (255, 255, 255)


@dataclass(frozen=True)
class ColorClass:
    """One entry of an ``internal-color-map``: its key, class name and colour (None if absent)."""

    key: str
    name: str
    color: RGB | None

    @property
    def is_background(self) -> bool:
        return is_background_name(self.name)


def is_background_name(name: str) -> bool:
    return name.strip().lower() in BACKGROUND_NAMES


def parse_hex_color(value: object) -> RGB | None:
    """``"#23A436"`` -> (35, 164, 54); None when the value is not a 6-digit hex colour."""
    if not isinstance(value, str):
        return None
    match = _HEX.match(value.strip())
    if not match:
        return None
    digits = match.group(1)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def to_hex(color: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def class_color(index: int) -> RGB:
    """The colour DDA writers give mask class ``index`` (0 = background, white)."""
    if index == 0:
        return BACKGROUND_COLOR
    return _CLASS_COLORS[(index - 1) % len(_CLASS_COLORS)]


def color_map_for(class_names: Sequence[str]) -> dict[str, dict[str, str]]:
    """The ``internal-color-map`` DDA writes for mask classes (index 0 is the background)."""
    return {
        str(index): {
            "class-name": "BACKGROUND" if index == 0 else name,
            "hex-color": to_hex(class_color(index)),
        }
        for index, name in enumerate(class_names)
    }


@dataclass(frozen=True)
class MaskConversion:
    """A mask as class ids plus what the conversion noticed."""

    ids: NDArray[np.uint8]
    unknown_pixels: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) like PIL."""
        return int(self.ids.shape[1]), int(self.ids.shape[0])

    @property
    def defect_pixels(self) -> int:
        return int(np.count_nonzero(self.ids))


def colored_mask_to_ids(
    image: Image.Image, colors: Sequence[ColorClass], name_to_id: Mapping[str, int]
) -> MaskConversion:
    """Convert a Ground Truth mask image to class ids using its colour map.

    ``name_to_id`` maps each non-background class name to its id (1..N). Entries without a colour
    fall back to the raw palette index / grey value equal to their key.
    """
    if any(c.color is None and not c.is_background for c in colors) and image.mode in ("P", "L"):
        return _indexed_mask_to_ids(image, colors, name_to_id)
    if image.mode == "P":
        # Classify the (at most 256) palette entries once, then index: much faster than
        # finding the distinct colours of every pixel.
        indices = np.asarray(image)
        strip = image.resize((256, 1))  # keeps the palette and its transparency
        strip.putdata(list(range(256)))
        entries = _rgba(strip)[0]
    else:
        packed = np.ascontiguousarray(_rgba(image)).view(np.uint32)[..., 0]  # one int per RGBA pixel
        unique, inverse = np.unique(packed, return_inverse=True)
        entries = unique.view(np.uint8).reshape(-1, 4)
        indices = inverse.reshape(packed.shape)
    table = np.zeros(len(entries), dtype=np.uint8)
    unknown = np.zeros(len(entries), dtype=bool)
    for index, (red, green, blue, alpha) in enumerate(entries.tolist()):
        if alpha < 128:
            continue  # transparent: background
        rgb: RGB = (red, green, blue)
        match = _match_color(rgb, colors)
        if match is None:
            unknown[index] = rgb not in ((0, 0, 0), (255, 255, 255))
        elif not match.is_background:
            table[index] = name_to_id[match.name]
    return MaskConversion(table[indices].astype(np.uint8), int(np.count_nonzero(unknown[indices])))


def _rgba(image: Image.Image) -> NDArray[np.uint8]:
    with warnings.catch_warnings():
        # Pillow warns about palette transparency given as bytes (the cookie masks); converting
        # to RGBA is exactly what it recommends.
        warnings.simplefilter("ignore", UserWarning)
        return np.asarray(image.convert("RGBA"))


def _match_color(rgb: RGB, colors: Sequence[ColorClass]) -> ColorClass | None:
    best: ColorClass | None = None
    best_distance = COLOR_TOLERANCE + 1
    for entry in colors:
        if entry.color is None:
            continue
        distance = max(abs(a - b) for a, b in zip(rgb, entry.color, strict=True))
        if distance < best_distance:
            best, best_distance = entry, distance
    return best


def _indexed_mask_to_ids(
    image: Image.Image, colors: Sequence[ColorClass], name_to_id: Mapping[str, int]
) -> MaskConversion:
    raw = np.asarray(image)
    table = np.zeros(256, dtype=np.uint8)
    known = np.zeros(256, dtype=bool)
    for entry in colors:
        if entry.key.isdigit() and int(entry.key) < 256:
            known[int(entry.key)] = True
            table[int(entry.key)] = 0 if entry.is_background else name_to_id[entry.name]
    return MaskConversion(table[raw].astype(np.uint8), int(np.count_nonzero(~known[raw])))


def save_class_mask(ids: NDArray[np.integer], path: Path, class_count: int | None = None) -> Path:
    """Save class ids as a palette PNG: raw indices are the ids, colours follow :func:`class_color`.

    Read back with ``np.asarray(Image.open(path))`` (the ids) or through a colour map (the colours).
    """
    if ids.ndim != 2:
        raise ValueError(f"a class mask must be 2-D, got shape {ids.shape}")
    top = int(ids.max(initial=0))
    if top > 255 or int(ids.min(initial=0)) < 0:
        raise ValueError("class ids must be in 0..255")
    count = max(class_count or 0, top + 1)
    image = Image.fromarray(ids.astype(np.uint8), mode="P")
    palette: list[int] = []
    for index in range(count):
        palette.extend(class_color(index))
    image.putpalette(palette)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", optimize=True)
    return path


def load_class_mask(path: Path) -> NDArray[np.uint8]:
    """Read a class-id mask (palette or greyscale PNG) as uint8 HxW."""
    with Image.open(path) as image:
        if image.mode not in ("P", "L"):
            raise ValueError(f"{path} is a {image.mode} image, not a class-id mask (P or L)")
        return np.asarray(image).astype(np.uint8)
