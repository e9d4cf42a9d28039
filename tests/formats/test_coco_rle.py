"""COCO RLE and COCO instances import/export, round trips on synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dda.core.errors import InvalidInput
from dda.formats.coco import read_coco, write_coco
from dda.formats.convert import with_boxes_from_masks
from dda.formats.dataset import Box, Dataset, Sample
from dda.formats.loader import load_dataset
from dda.formats.rle import (
    counts_to_mask,
    decode_counts,
    decode_rle,
    encode_counts,
    encode_mask,
    mask_to_counts,
)
from tests.formats.conftest import make_image, mask_ids


def test_counts_are_column_major_and_start_with_zeros() -> None:
    mask = np.array([[0, 1], [0, 1], [1, 1]], dtype=bool)  # column 0: 0,0,1  column 1: 1,1,1
    assert mask_to_counts(mask) == [2, 4]
    assert mask_to_counts(np.ones((2, 2), dtype=bool)) == [0, 4]
    assert np.array_equal(counts_to_mask([2, 4], 3, 2), mask)
    with pytest.raises(InvalidInput, match="add up"):
        counts_to_mask([2, 3], 3, 2)


def test_compact_strings_match_pycocotools_and_round_trip() -> None:
    # Worked out by hand from pycocotools' rleToString (maskApi.c): from the 4th run on, each run is
    # stored minus the run two before it, so [.., 3, 1] store -7 ('I' = 25 + 48) and -1 ('O').
    assert encode_counts([0, 4]) == "04"
    assert encode_counts([5, 10, 2, 3, 1]) == "5:2IO"
    assert decode_counts("5:2IO") == [5, 10, 2, 3, 1]
    assert encode_counts([100]) == "T3"  # 100 = 0b11_00100: group 4 with "more" (4+32+48 = "T"), then 3
    rng = np.random.default_rng(0)
    for _ in range(20):
        counts = [int(v) for v in rng.integers(0, 5000, size=int(rng.integers(1, 30)))]
        assert decode_counts(encode_counts(counts)) == counts
    for bad in ("T", "\x7f"):
        with pytest.raises(InvalidInput):
            decode_counts(bad)


def test_random_masks_round_trip_through_rle_objects() -> None:
    rng = np.random.default_rng(1)
    for shape in ((1, 1), (7, 13), (64, 48)):
        mask = rng.random(shape) > 0.7
        rle = encode_mask(mask)
        assert rle["size"] == list(shape)
        assert np.array_equal(decode_rle(rle), mask)
        assert np.array_equal(decode_rle({"size": list(shape), "counts": mask_to_counts(mask)}), mask)


def test_synthetic_masks_round_trip_through_coco(synthetic_cookies: Path, tmp_path: Path) -> None:
    original = load_dataset(synthetic_cookies, progress=False)
    annotations = write_coco(original, tmp_path / "coco")
    document = json.loads(annotations.read_text())
    assert [c["name"] for c in document["categories"]] == ["crack", "spot", "missing"]
    assert len(document["images"]) == 12
    again = read_coco(annotations)
    assert again.mask_class_names == original.mask_class_names
    assert again.class_names == original.class_names
    for before, after in zip(original.samples, again.samples, strict=True):
        assert after.label == before.label
        assert Path(after.image_path).read_bytes() == Path(before.image_path).read_bytes()
        if before.mask_path is None:
            assert after.mask_path is None
        else:
            assert np.array_equal(mask_ids(after), mask_ids(before))


def test_boxes_with_masks_round_trip_through_coco(synthetic_cookies: Path, tmp_path: Path) -> None:
    boxed = with_boxes_from_masks(load_dataset(synthetic_cookies, progress=False))
    assert boxed.box_class_names == ["crack", "spot", "missing"]
    assert sum(len(s.boxes) for s in boxed.samples) >= 6
    again = read_coco(write_coco(boxed, tmp_path / "coco"))
    assert again.box_class_names == boxed.box_class_names
    for before, after in zip(boxed.samples, again.samples, strict=True):
        assert after.boxes == before.boxes
        if before.mask_path is not None:
            assert np.array_equal(mask_ids(after), mask_ids(before))


def test_polygons_rasterise_and_categories_map_to_zero_based_boxes(tmp_path: Path) -> None:
    make_image(tmp_path / "imgs" / "a.png", size=(40, 40))
    make_image(tmp_path / "imgs" / "b.png", size=(40, 40))
    document = {
        "images": [
            {"id": 7, "file_name": "a.png", "width": 40, "height": 40},
            {"id": 8, "file_name": "b.png", "width": 40, "height": 40},
        ],
        "categories": [{"id": 3, "name": "dent"}, {"id": 1, "name": "scratch"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 7,
                "category_id": 3,
                "bbox": [10, 10, 10, 10],
                "iscrowd": 0,
                "segmentation": [[10, 10, 19, 10, 19, 19, 10, 19]],
            },
            {
                "id": 2,
                "image_id": 7,
                "category_id": 1,
                "bbox": [0, 30, 40, 2],
                "iscrowd": 1,
                "segmentation": {"size": [40, 40], "counts": mask_to_counts(_rows(30, 32))},
            },
        ],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(document))
    dataset = read_coco(path, tmp_path / "imgs")
    assert dataset.box_class_names == ["scratch", "dent"]  # category-id order: 1, 3
    assert dataset.mask_class_names == ["background", "scratch", "dent"]
    a, b = dataset.samples
    assert a.label == 1 and b.label == 0 and b.mask_path is None
    assert a.boxes == (Box(1, 10, 10, 10, 10), Box(0, 0, 30, 40, 2))
    mask = mask_ids(a)
    assert int((mask == 2).sum()) == 100 and int((mask == 1).sum()) == 80


def _rows(start: int, stop: int) -> np.ndarray:
    mask = np.zeros((40, 40), dtype=bool)
    mask[start:stop] = True
    return mask


def test_bad_coco_files_list_their_problems(tmp_path: Path) -> None:
    make_image(tmp_path / "a.png")
    document = {
        "images": [
            {"id": 1, "file_name": "a.png"},
            {"id": 2, "file_name": "../etc/passwd"},
            {"id": 3, "file_name": "gone.png"},
        ],
        "categories": [{"id": 1, "name": "dent"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 0, 1]},
            {"id": 3, "image_id": 4, "category_id": 1, "bbox": [0, 0, 1, 1]},
        ],
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidInput) as caught:
        read_coco(path)
    message = caught.value.message
    for text in (
        "leaves the images folder",
        "gone.png does not exist",
        "category_id 9",
        "bbox [0, 0, 0, 1]",
        "image_id 4",
    ):
        assert text in message
    path.write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        read_coco(path)


def test_classification_labels_survive_coco(tmp_path: Path) -> None:
    samples = [Sample(make_image(tmp_path / f"{i}.png", seed=i), i, line_number=i + 1) for i in range(3)]
    dataset = Dataset(samples, ["normal", "dent", "scratch"])
    again = read_coco(write_coco(dataset, tmp_path / "coco"))
    assert [again.class_names[s.label] for s in again.samples] == ["normal", "dent", "scratch"]
