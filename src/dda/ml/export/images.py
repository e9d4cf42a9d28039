"""Image sets for INT8 calibration and the parity gate: a manifest, a folder, or synthetic frames."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dda.core.errors import InvalidInput, NotFound
from dda.core.safe_image import decode_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
NORMAL_FOLDER_NAMES = ("normal", "good", "ok")
DEFAULT_LIMIT = 64


@dataclass
class ImageSet:
    """Decoded uint8 [H, W, 3] RGB images; ``labels`` (0 normal, >0 defect) when known."""

    images: list[np.ndarray]
    names: list[str]
    labels: list[int] | None
    source: str

    def __len__(self) -> int:
        return len(self.images)


def _subsample(
    items: list[tuple[Path, int | None]], limit: int | None, seed: int
) -> list[tuple[Path, int | None]]:
    if limit is None or len(items) <= limit:
        return items
    picked = random.Random(seed).sample(range(len(items)), limit)
    return [items[i] for i in sorted(picked)]


def _folder_items(folder: Path) -> list[tuple[Path, int | None]]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InvalidInput(
            f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})",
            hint="point at a folder of training images or a manifest",
        )
    # Labels from one level of sub-folders: normal/ (or good/, ok/) vs anything else.
    parents = {p.parent for p in files}
    labelled = all(p != folder for p in parents)
    return [
        (p, (0 if p.parent.name.lower() in NORMAL_FOLDER_NAMES else 1) if labelled else None) for p in files
    ]


def _manifest_items(manifest: Path, mappings: Mapping[str, str] | None) -> list[tuple[Path, int | None]]:
    from dda.formats.loader import load_dataset

    dataset = load_dataset(manifest, mappings=mappings, progress=False)
    return [(s.image_path, int(s.label > 0)) for s in dataset.samples]


def load_image_set(
    source: Path | str,
    *,
    limit: int | None = DEFAULT_LIMIT,
    mappings: Mapping[str, str] | None = None,
    seed: int = 0,
) -> ImageSet:
    """Decode up to ``limit`` images (seeded sample) from a manifest file or an image folder.

    Manifests (Ground Truth or DDA) give image labels; a folder gives labels when its images sit in
    sub-folders named ``normal``/``good``/``ok`` (label 0) and anything else (label 1).
    """
    path = Path(source)
    if path.is_dir():
        items = _folder_items(path)
    elif path.is_file():
        items = _manifest_items(path, mappings)
    else:
        raise NotFound(f"image source {path} does not exist", hint="pass a manifest file or an image folder")
    items = _subsample(items, limit, seed)
    images = [decode_image(p) for p, _ in items]
    labels = [label for _, label in items]
    return ImageSet(
        images=images,
        names=[p.name for p, _ in items],
        labels=None if any(label is None for label in labels) else [int(x) for x in labels if x is not None],
        source=str(path),
    )


def synthetic_image_set(count: int = 8, seed: int = 0) -> ImageSet:
    """Deterministic textured frames of several sizes, for a numeric parity check without data.

    They exercise the resize and every layer with natural-looking statistics (smooth shading,
    texture, a few blobs) but carry no labels, so the gate checks numbers, not quality.
    """
    rng = np.random.default_rng(seed)
    sizes = [(576, 768), (480, 640), (300, 400), (720, 1280)]
    images = []
    for i in range(count):
        height, width = sizes[i % len(sizes)]
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        base = 128 + 60 * np.sin(xx / (23 + 7 * i)) * np.cos(yy / (31 + 5 * i))
        image = np.stack([base + rng.normal(0, 12, (height, width)) + 20 * c for c in range(3)], axis=2)
        for _ in range(3):
            cy, cx, r = rng.integers(0, height), rng.integers(0, width), rng.integers(10, 60)
            image[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] -= 70
        images.append(np.clip(image, 0, 255).astype(np.uint8))
    return ImageSet(images, [f"synthetic-{i}.png" for i in range(count)], None, "synthetic")


def split_held_out(images: ImageSet, calibration_count: int, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """(calibration, golden): a seeded split so the parity gate judges the INT8 model on images its
    calibration never saw. With labels, each label goes to both parts in proportion."""
    count = len(images)
    calibration_count = max(1, min(calibration_count, count - 1))
    rng = np.random.default_rng(seed)
    keys = images.labels if images.labels is not None else [0] * count
    chosen: list[int] = []
    for key in sorted(set(keys)):
        group = [i for i in range(count) if keys[i] == key]
        rng.shuffle(group)
        chosen += group[: round(len(group) * calibration_count / count)]
    rest = [i for i in rng.permutation(count).tolist() if i not in chosen]
    chosen = (chosen + rest)[:calibration_count]  # rounding: top up or trim to the exact count
    picked = set(chosen)

    def part(indices: list[int], source: str) -> ImageSet:
        labels = None if images.labels is None else [images.labels[i] for i in indices]
        return ImageSet(
            [images.images[i] for i in indices], [images.names[i] for i in indices], labels, source
        )

    calibration = part(sorted(picked), images.source)
    golden = part(
        [i for i in range(count) if i not in picked], f"{images.source} (held out from calibration)"
    )
    return calibration, golden
