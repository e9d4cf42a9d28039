"""Fixtures for the formats tests: small synthetic datasets and manifest-writing helpers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dda.formats.dataset import Sample
from dda.formats.masks import load_class_mask
from dda.formats.synthetic import generate_synthetic_dataset
from tests.core.conftest import moto_server, s3_bucket_name, s3_settings  # noqa: F401 - re-exported fixtures

COOKIE_BUCKET_PREFIX = "s3://dda-cookie-dataset-571264418424/cookies/"


def write_lines(path: Path, records: Iterable[dict[str, Any] | str]) -> Path:
    """Write a manifest: dicts as JSON lines, strings verbatim (for broken lines)."""
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
    return path


def make_image(path: Path, size: tuple[int, int] = (64, 48), seed: int = 0) -> Path:
    """A small noisy RGB image of ``size`` (width, height)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def make_gt_mask(path: Path, ids: np.ndarray, colors: dict[int, tuple[int, int, int]]) -> Path:
    """An RGB Ground Truth style mask: white background, class colours elsewhere."""
    rgb = np.full((*ids.shape, 3), 255, dtype=np.uint8)
    for class_id, color in colors.items():
        rgb[ids == class_id] = color
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


@pytest.fixture(scope="session")
def synthetic_cookies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 synthetic 96x128 cookies (6 defective) with GT and DDA manifests. Read-only for tests."""
    out = tmp_path_factory.mktemp("synthetic-cookies")
    manifest: Path = generate_synthetic_dataset(
        out, count=12, product="cookie", seed=3, size=(96, 128), write_dda=True, progress=False
    )
    return manifest


def mask_ids(sample: Sample) -> np.ndarray:
    """The class ids of a sample that must have a mask."""
    assert sample.mask_path is not None, f"{sample.image_path} has no mask"
    return load_class_mask(sample.mask_path)
