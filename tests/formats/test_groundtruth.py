"""Ground Truth output manifests: job attributes found by their type, read and written back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dda.core.errors import InvalidInput
from dda.formats.dataset import Box, Dataset, Sample
from dda.formats.loader import load_dataset
from dda.formats.manifest import parse_manifest
from dda.formats.masks import save_class_mask
from dda.formats.records import JobKind
from dda.formats.writers import write_dda_manifest, write_groundtruth_manifest
from tests.formats.conftest import make_gt_mask, make_image, mask_ids, write_lines

ODD_CLASS_JOB = "Zx9-qa_line4 (v2)"  # odd characters, nothing like "classification"
ODD_SEG_JOB = "nightshift.paint-ref"
ODD_BOX_JOB = "boxes"


def _classification(job: str, label: int, name: str) -> dict[str, Any]:
    return {
        job: label,
        f"{job}-metadata": {
            "job-name": f"labeling-job/{job}",
            "class-name": name,
            "human-annotated": "yes",
            "creation-date": "2026-01-01T00:00:00Z",
            "type": "groundtruth/image-classification",
        },
    }


def _segmentation(job: str, mask: str) -> dict[str, Any]:
    colour_map = {
        "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"},
        "1": {"class-name": "scratch", "hex-color": "#e6194b"},
        "2": {"class-name": "dent", "hex-color": "#0082c8"},
    }
    return {
        job: mask,
        f"{job}-metadata": {
            "job-name": f"labeling-job/{job}",
            "internal-color-map": colour_map,
            "type": "groundtruth/semantic-segmentation",
        },
    }


def _detection(job: str, boxes: list[dict[str, int]], size: tuple[int, int]) -> dict[str, Any]:
    return {
        job: {"annotations": boxes, "image_size": [{"width": size[0], "height": size[1], "depth": 3}]},
        f"{job}-metadata": {
            "job-name": f"labeling-job/{job}",
            "class-map": {"0": "chip", "1": "dent"},
            "type": "groundtruth/object-detection",
            "objects": [{"confidence": 0.9}],
        },
    }


@pytest.fixture
def odd_manifest(tmp_path: Path) -> Path:
    """Three images labeled by jobs with unusual names: classification, segmentation, detection."""
    ids = np.zeros((48, 64), dtype=np.uint8)
    ids[5:15, 5:20] = 1
    ids[30:40, 40:60] = 2
    make_gt_mask(tmp_path / "masks" / "b.png", ids, {1: (230, 25, 75), 2: (0, 130, 200)})
    make_gt_mask(tmp_path / "masks" / "empty.png", np.zeros((48, 64), dtype=np.uint8), {})
    lines = []
    for index, (name, label, cls, mask) in enumerate(
        [
            ("a.png", 0, "good", "masks/empty.png"),
            ("b.png", 1, "bad", "masks/b.png"),
            ("c.png", 0, "good", None),
        ]
    ):
        make_image(tmp_path / "img" / name, seed=index)
        record: dict[str, Any] = {"source-ref": f"img/{name}", **_classification(ODD_CLASS_JOB, label, cls)}
        if mask:
            record |= _segmentation(ODD_SEG_JOB, mask)
        boxes = [{"class_id": 1, "left": 40, "top": 30, "width": 20, "height": 10}] if label else []
        record |= _detection(ODD_BOX_JOB, boxes, (64, 48))
        lines.append(record)
    return write_lines(tmp_path / "output.manifest", lines)


def test_jobs_are_detected_by_type_whatever_their_names(odd_manifest: Path) -> None:
    parsed = parse_manifest(odd_manifest)
    assert parsed.format == "groundtruth"
    assert parsed.jobs.classification is not None and parsed.jobs.classification.attribute == ODD_CLASS_JOB
    assert parsed.jobs.segmentation is not None and parsed.jobs.segmentation.attribute == ODD_SEG_JOB
    assert parsed.jobs.detection is not None and parsed.jobs.detection.attribute == ODD_BOX_JOB
    assert parsed.jobs.classification.kind is JobKind.CLASSIFICATION
    assert parsed.problems.items == []


def test_odd_manifest_loads_with_labels_masks_and_boxes(odd_manifest: Path) -> None:
    dataset = load_dataset(odd_manifest, progress=False)
    assert dataset.class_names == ["normal", "bad"]  # "good" is recognised as the normal class
    assert [s.label for s in dataset.samples] == [0, 1, 0]
    assert dataset.mask_class_names == ["background", "scratch", "dent"]
    assert dataset.box_class_names == ["chip", "dent"]
    a, b, c = dataset.samples
    assert a.mask_path is None and c.mask_path is None  # an all-background mask is no mask
    assert b.mask_path is not None
    mask = mask_ids(b)
    assert int((mask == 1).sum()) == 150 and int((mask == 2).sum()) == 200
    assert b.boxes == (Box(1, 40.0, 30.0, 20.0, 10.0),)
    assert a.boxes == () and b.line_number == 2
    assert b.source_ref == "img/b.png"


def test_normal_class_found_when_it_is_not_id_zero(tmp_path: Path) -> None:
    make_image(tmp_path / "x.png")
    lines = [
        {"source-ref": "x.png", **_classification("job", 1, "OK")},
        {"source-ref": "x.png", **_classification("job", 0, "scratch")},
        {"source-ref": "x.png", **_classification("job", 2, "dent")},
    ]
    dataset = load_dataset(write_lines(tmp_path / "m.manifest", lines), progress=False)
    assert dataset.class_names == ["normal", "scratch", "dent"]
    assert [s.label for s in dataset.samples] == [0, 1, 2]


def test_unrecognisable_normal_class_is_a_warning_and_normal_class_option_fixes_it(tmp_path: Path) -> None:
    lines = []
    for i, name in enumerate(["dent", "fine"]):
        make_image(tmp_path / f"{i}.png")
        lines.append({"source-ref": f"{i}.png", **_classification("job", i, name)})
    path = write_lines(tmp_path / "m.manifest", lines)
    parsed = parse_manifest(path)
    assert [p.severity.value for p in parsed.problems.items] == ["warning"]
    assert "--normal-class" in parsed.problems.items[0].fix
    dataset = load_dataset(path, normal_class="fine", progress=False)
    assert dataset.class_names == ["normal", "dent"]
    assert [s.label for s in dataset.samples] == [1, 0]


def test_two_jobs_of_one_kind_need_a_choice(tmp_path: Path) -> None:
    make_image(tmp_path / "x.png")
    line = {
        "source-ref": "x.png",
        **_classification("first", 0, "normal"),
        **_classification("second", 1, "anomaly"),
    }
    path = write_lines(tmp_path / "m.manifest", [line])
    parsed = parse_manifest(path)
    assert parsed.jobs.classification is None
    assert "--job" in parsed.problems.errors[0].fix
    assert "'first'" in parsed.problems.errors[0].message and "'second'" in parsed.problems.errors[0].message
    chosen = load_dataset(path, jobs=["labeling-job/second"], progress=False)
    assert [s.label for s in chosen.samples] == [1]
    assert load_dataset(path, jobs=["first"], progress=False).samples[0].label == 0
    unknown = parse_manifest(path, jobs=["third"])
    assert any("'third' is not a job" in p.message for p in unknown.problems.errors)


def test_segmentation_only_manifest_takes_the_label_from_the_mask(tmp_path: Path) -> None:
    ids = np.zeros((48, 64), dtype=np.uint8)
    ids[1:4, 1:4] = 2
    make_gt_mask(tmp_path / "defect.png", ids, {2: (0, 130, 200)})
    make_gt_mask(tmp_path / "clean.png", np.zeros_like(ids), {})
    make_image(tmp_path / "x.png")
    lines = [
        {"source-ref": "x.png", **_segmentation("s-ref", "defect.png")},
        {"source-ref": "x.png", **_segmentation("s-ref", "clean.png")},
    ]
    dataset = load_dataset(write_lines(tmp_path / "m.manifest", lines), progress=False)
    assert dataset.class_names == ["normal", "anomaly"]
    assert [s.label for s in dataset.samples] == [1, 0]
    assert dataset.mask_class_names == ["background", "scratch", "dent"]
    assert int((mask_ids(dataset.samples[0]) == 2).sum()) == 9


def test_no_typed_attributes_is_an_error_with_a_fix(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "m.manifest", [{"source-ref": "x.png", "label": 1, "label-metadata": {}}])
    parsed = parse_manifest(path)
    assert len(parsed.problems.errors) == 1
    assert "no label attributes" in parsed.problems.errors[0].message
    with pytest.raises(InvalidInput, match="no label attributes"):
        load_dataset(path)


def _dataset_with_everything(tmp_path: Path) -> Dataset:
    samples = []
    for index in range(4):
        image = make_image(tmp_path / "src" / f"i{index}.png", size=(48, 36), seed=index)
        mask_path = None
        boxes: tuple[Box, ...] = ()
        if index % 2:
            ids = np.zeros((36, 48), dtype=np.uint8)
            ids[3:9, 4:12] = index % 3 + 1
            mask_path = tmp_path / "src" / f"m{index}.png"
            Image.fromarray(ids, mode="L").save(mask_path)  # a plain greyscale class-id mask
            boxes = (Box(index % 2, 4, 3, 8.5, 6),)
        label = 0 if mask_path is None else 1 + index // 2  # line 2: crack, line 4: spot
        samples.append(Sample(image, label, mask_path, boxes, line_number=index + 1))
    return Dataset(
        samples, ["normal", "crack", "spot"], ["background", "crack", "spot", "hole"], "t", ["crack", "spot"]
    )


@pytest.mark.parametrize("writer", ["groundtruth", "dda"])
def test_written_manifests_read_back_identically(tmp_path: Path, writer: str) -> None:
    dataset = _dataset_with_everything(tmp_path)
    out = tmp_path / "out" / "x.manifest"
    if writer == "dda":
        write_dda_manifest(dataset, out)
    else:
        write_groundtruth_manifest(dataset, out, job="qa")
    again = load_dataset(out, progress=False)
    assert parse_manifest(out).format == writer
    assert again.class_names == dataset.class_names
    assert again.box_class_names == dataset.box_class_names
    assert again.mask_class_names[:3] == ["background", "crack", "spot"]
    for before, after in zip(dataset.samples, again.samples, strict=True):
        assert after.label == before.label
        assert after.boxes == before.boxes
        assert Path(after.image_path).resolve() == Path(before.image_path).resolve()
        if before.mask_path is None:
            assert after.mask_path is None
        else:
            assert np.array_equal(mask_ids(after), np.asarray(Image.open(before.mask_path)))
    # The greyscale masks were re-encoded as palette PNGs beside the manifest.
    assert sorted(p.name for p in (tmp_path / "out" / "masks").iterdir()) == ["i1-2.png", "i3-4.png"]


def test_writer_reuses_palette_masks_and_can_write_absolute_refs(tmp_path: Path) -> None:
    image = make_image(tmp_path / "a.png")
    ids = np.zeros((48, 64), dtype=np.uint8)
    ids[0:2, 0:2] = 1
    mask = save_class_mask(ids, tmp_path / "mask.png", 2)
    dataset = Dataset([Sample(image, 1, mask)], mask_class_names=["background", "crack"])
    out = write_dda_manifest(dataset, tmp_path / "sub" / "m.manifest", refs="absolute")
    text = out.read_text()
    assert str(mask.resolve()) in text and str(image.resolve()) in text
    assert not (tmp_path / "sub" / "masks").exists()
