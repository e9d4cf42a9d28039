"""The real cookie dataset: Ground Truth manifests whose s3:// URIs point at a bucket we lack.

With ``--map`` they load, transform to DDA and validate cleanly. Skipped where ../shared is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dda.formats.loader import load_dataset
from dda.formats.manifest import parse_manifest
from dda.formats.transform import transform_gt_to_dda
from dda.formats.validate import validate_manifest
from tests.formats.conftest import COOKIE_BUCKET_PREFIX, mask_ids


@pytest.fixture
def cookie_map(cookies_dir: Path) -> dict[str, str]:
    return {COOKIE_BUCKET_PREFIX: str(cookies_dir) + "/"}


def _manifest(cookies_dir: Path, name: str) -> Path:
    return cookies_dir / "dataset-files" / "manifests" / name


def test_counts_match_the_readme_and_the_files(cookies_dir: Path) -> None:
    images = sorted((cookies_dir / "dataset-files" / "training-images").glob("*.jpg"))
    assert len(images) == 63
    assert sum(p.name.startswith("normal-") for p in images) == 31
    assert sum(p.name.startswith("anomaly-") for p in images) == 32


@pytest.mark.parametrize("name", ["train_class.manifest", "train_segmentation.manifest"])
def test_cookie_manifest_loads_via_map(cookies_dir: Path, cookie_map: dict[str, str], name: str) -> None:
    dataset = load_dataset(_manifest(cookies_dir, name), mappings=cookie_map, progress=False)
    assert len(dataset) == 63
    assert dataset.class_names == ["normal", "anomaly"]
    assert dataset.count_by_label() == {"normal": 31, "anomaly": 32}
    for sample in dataset.samples:  # the label agrees with the file name, every line
        assert Path(sample.image_path).name.split("-")[0] == dataset.class_names[sample.label]
        assert Path(sample.image_path).is_file()
        assert sample.source_ref.startswith(COOKIE_BUCKET_PREFIX)


def test_cookie_masks_become_class_ids_and_the_dummy_mask_is_no_mask(
    cookies_dir: Path, cookie_map: dict[str, str]
) -> None:
    dataset = load_dataset(
        _manifest(cookies_dir, "train_segmentation.manifest"), mappings=cookie_map, progress=False
    )
    assert dataset.mask_class_names == ["background", "cracked"]
    masked = [s for s in dataset.samples if s.mask_path is not None]
    assert len(masked) == 32 and all(s.label == 1 for s in masked)
    first = next(s for s in masked if Path(s.image_path).name == "anomaly-1.jpg")
    ids = mask_ids(first)
    assert ids.shape == (768, 576) and set(np.unique(ids).tolist()) == {0, 1}
    # The source mask's defect is its opaque (alpha >= 128) class-colour pixels.
    with Image.open(cookies_dir / "dataset-files" / "mask-images" / "anomaly-1.png") as source:
        alpha = np.asarray(source.convert("RGBA"))[..., 3]
    assert int(ids.sum()) == int((alpha >= 128).sum()) == 7676


@pytest.mark.parametrize("name", ["train_class.manifest", "train_segmentation.manifest"])
def test_cookie_manifest_validates_cleanly(cookies_dir: Path, cookie_map: dict[str, str], name: str) -> None:
    report = validate_manifest(_manifest(cookies_dir, name), mappings=cookie_map, progress=False)
    assert report.problems.items == [], [p.format() for p in report.problems.items]
    assert report.label_counts() == {"normal": 31, "anomaly": 32}


def test_cookie_manifest_without_map_says_how_to_map(cookies_dir: Path) -> None:
    report = validate_manifest(_manifest(cookies_dir, "train_class.manifest"), progress=False)
    assert len(report.problems.errors) == 63
    assert all("--map" in p.fix for p in report.problems.errors)


def test_cookie_transform_to_dda_and_back(
    cookies_dir: Path, cookie_map: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "dda-cookies.manifest"
    result = transform_gt_to_dda(
        _manifest(cookies_dir, "train_segmentation.manifest"), out, mappings=cookie_map, progress=False
    )
    assert result.ok and result.output == out and result.written == 63 and result.skipped_lines == []
    first = json.loads(out.read_text().splitlines()[0])
    assert set(first) == {
        "source-ref",
        "anomaly-label",
        "anomaly-label-metadata",
        "anomaly-mask-ref",
        "anomaly-mask-ref-metadata",
    }
    assert first["anomaly-label-metadata"]["job-name"] == "anomaly-label"
    assert first["anomaly-label-metadata"]["source-job-name"] == "cookie-classification"
    assert first["anomaly-label-metadata"]["type"] == "groundtruth/image-classification"
    assert first["anomaly-mask-ref-metadata"]["internal-color-map"]["0"]["class-name"] == "cracked"
    assert parse_manifest(out).format == "dda"
    report = validate_manifest(out, mappings=cookie_map, progress=False)
    assert report.problems.items == []
    original = load_dataset(
        _manifest(cookies_dir, "train_segmentation.manifest"), mappings=cookie_map, progress=False
    )
    transformed = load_dataset(out, mappings=cookie_map, progress=False)
    assert [(s.image_path, s.label, s.mask_path) for s in transformed.samples] == [
        (s.image_path, s.label, s.mask_path) for s in original.samples
    ]
