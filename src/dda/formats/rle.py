"""COCO run-length encoding of binary masks (the ``{"size": [h, w], "counts": ...}`` objects).

Runs are taken in column-major order and start with a run of zeros. ``counts`` is either a list of
ints ("uncompressed", as in crowd annotations) or pycocotools' compact string: each run minus the
run two before it, in 5-bit groups with a continuation bit, offset by 48 into printable ASCII.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from dda.core.errors import InvalidInput

MAX_RLE_CHARS = 10_000_000


def mask_to_counts(mask: NDArray[np.bool_]) -> list[int]:
    """Run lengths of a binary HxW mask, column-major, first run = zeros (may be 0)."""
    flat = np.asarray(mask, dtype=bool).T.ravel()
    if flat.size == 0:
        return []
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat[0] else runs


def counts_to_mask(counts: list[int], height: int, width: int) -> NDArray[np.bool_]:
    total = height * width
    if any(c < 0 for c in counts) or sum(counts) != total:
        raise InvalidInput(
            f"RLE counts add up to {sum(counts)}, not {height}x{width} = {total}",
            hint="the segmentation's 'size' must be [height, width] of its image",
        )
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    return flat.reshape(width, height).T.copy()


def encode_counts(counts: list[int]) -> str:
    """pycocotools' compact string form of ``counts``."""
    chars: list[str] = []
    for index, count in enumerate(counts):
        value = count - counts[index - 2] if index > 2 else count
        more = True
        while more:
            group = value & 0x1F
            value >>= 5
            more = value != -1 if group & 0x10 else value != 0
            if more:
                group |= 0x20
            chars.append(chr(group + 48))
    return "".join(chars)


def decode_counts(text: str) -> list[int]:
    if len(text) > MAX_RLE_CHARS:
        raise InvalidInput("RLE string is too long", hint="split the annotation or use polygons")
    counts: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text):
                raise InvalidInput("RLE string ends in the middle of a number", hint="re-export the mask")
            group = ord(text[position]) - 48
            if not 0 <= group < 64:
                raise InvalidInput(
                    "RLE string holds a character outside its alphabet", hint="re-export the mask"
                )
            value |= (group & 0x1F) << (5 * shift)
            more = bool(group & 0x20)
            position += 1
            shift += 1
            if not more and group & 0x10:
                value |= -1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def encode_mask(mask: NDArray[np.bool_]) -> dict[str, Any]:
    height, width = mask.shape
    return {"size": [int(height), int(width)], "counts": encode_counts(mask_to_counts(mask))}


def decode_rle(rle: dict[str, Any]) -> NDArray[np.bool_]:
    """A COCO RLE object (compact string or list counts) -> HxW bool mask."""
    size = rle.get("size")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise InvalidInput(f"RLE 'size' is {size!r}", hint="write 'size': [height, width]")
    counts = rle.get("counts")
    if isinstance(counts, str):
        runs = decode_counts(counts)
    elif isinstance(counts, list) and all(isinstance(c, int) for c in counts):
        runs = counts
    else:
        raise InvalidInput("RLE 'counts' is neither a string nor a list of ints", hint="re-export the mask")
    return counts_to_mask(runs, size[0], size[1])
