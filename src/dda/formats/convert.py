"""Conversions between label kinds: boxes around the connected regions of class-id masks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from dda.formats.dataset import Box, Dataset
from dda.formats.masks import load_class_mask

Region = tuple[int, int, int, int]  # x0, y0, x1, y1 inclusive


def connected_regions(mask: NDArray[np.bool_]) -> list[tuple[Region, int]]:
    """(bounding box, pixel count) of each 8-connected region of a binary mask (scipy-free)."""
    remaining = {(int(y), int(x)) for y, x in zip(*np.nonzero(mask), strict=True)}
    regions: list[tuple[Region, int]] = []
    while remaining:
        seed = remaining.pop()
        stack = [seed]
        count = 0
        y0 = y1 = seed[0]
        x0 = x1 = seed[1]
        while stack:
            y, x = stack.pop()
            count += 1
            y0, y1, x0, x1 = min(y0, y), max(y1, y), min(x0, x), max(x1, x)
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    neighbour = (y + dy, x + dx)
                    if neighbour in remaining:
                        remaining.remove(neighbour)
                        stack.append(neighbour)
        regions.append(((x0, y0, x1, y1), count))
    return sorted(regions, key=lambda r: (r[0][1], r[0][0]))


def with_boxes_from_masks(dataset: Dataset, *, min_pixels: int = 4) -> Dataset:
    """A copy whose samples get one box per connected region of each mask class.

    Box classes are the mask classes without the background. A dataset that already has box
    classes is returned as it is; regions smaller than ``min_pixels`` are ignored as labeling specks.
    """
    if dataset.box_class_names:
        return dataset
    samples = []
    for sample in dataset.samples:
        if sample.mask_path is None:
            samples.append(sample)
            continue
        ids = load_class_mask(Path(sample.mask_path))
        boxes: list[Box] = []
        for class_id in sorted(int(c) for c in np.unique(ids) if c):
            for (x0, y0, x1, y1), count in connected_regions(ids == class_id):
                if count >= min_pixels:
                    boxes.append(Box(class_id - 1, x0, y0, x1 - x0 + 1, y1 - y0 + 1))
        samples.append(replace(sample, boxes=tuple(boxes)))
    return replace(dataset, samples=samples, box_class_names=list(dataset.mask_class_names[1:]))
