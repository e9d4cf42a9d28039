"""YOLO detection import/export and round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from dda.core.errors import InvalidInput, NotFound
from dda.formats.convert import connected_regions, with_boxes_from_masks
from dda.formats.dataset import Box, Dataset, Sample
from dda.formats.loader import load_dataset
from dda.formats.yolo import read_class_names, read_yolo, write_yolo
from tests.formats.conftest import make_image


def _assert_same_boxes(a: tuple[Box, ...], b: tuple[Box, ...]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.class_id == y.class_id
        for field in ("left", "top", "width", "height"):
            assert getattr(x, field) == pytest.approx(getattr(y, field), abs=0.01)


def test_boxes_round_trip_through_yolo(tmp_path: Path) -> None:
    samples = [
        Sample(
            make_image(tmp_path / "a.png", size=(64, 48)),
            1,
            boxes=(Box(0, 4, 6, 20, 10), Box(1, 30, 20, 33.5, 27)),
        ),
        Sample(make_image(tmp_path / "b.png", size=(40, 40), seed=1), 0),
        Sample(
            make_image(tmp_path / "sub" / "a.png", size=(50, 40), seed=2), 1, boxes=(Box(1, 0, 0, 50, 40),)
        ),
    ]
    dataset = Dataset(samples, box_class_names=["scratch", "dent"])
    out = write_yolo(dataset, tmp_path / "yolo")
    assert (out / "classes.txt").read_text() == "scratch\ndent\n"
    assert (out / "labels" / "a.txt").read_text().splitlines()[0] == "0 0.218750 0.229167 0.312500 0.208333"
    assert (out / "labels" / "b.txt").read_text() == ""
    again = read_yolo(out)
    assert again.box_class_names == ["scratch", "dent"]
    by_name = {Path(s.image_path).name: s for s in again.samples}
    assert sorted(by_name) == ["a-1.png", "a.png", "b.png"]  # the clashing name got a suffix
    _assert_same_boxes(by_name["a.png"].boxes, samples[0].boxes)
    _assert_same_boxes(by_name["a-1.png"].boxes, samples[2].boxes)
    assert by_name["b.png"].label == 0 and by_name["a.png"].label == 1


def test_synthetic_masks_export_as_yolo_boxes(synthetic_cookies: Path, tmp_path: Path) -> None:
    boxed = with_boxes_from_masks(load_dataset(synthetic_cookies, progress=False))
    again = read_yolo(write_yolo(boxed, tmp_path / "yolo"))
    for before, after in zip(boxed.samples, again.samples, strict=True):
        _assert_same_boxes(after.boxes, before.boxes)
        assert after.label == before.label  # every defect image has a box, normal ones none


def test_class_names_from_data_yaml_variants(tmp_path: Path) -> None:
    variants = {
        "names: ['a', \"b\"]\n": ["a", "b"],
        "nc: 2\nnames:\n  - a\n  - b  # comment\ntrain: x\n": ["a", "b"],
        "names:\n  0: a\n  1: b\n": ["a", "b"],
    }
    for text, expected in variants.items():
        (tmp_path / "data.yaml").write_text(text)
        assert read_class_names(tmp_path) == expected
    (tmp_path / "data.yaml").unlink()
    with pytest.raises(NotFound, match="no class names"):
        read_class_names(tmp_path)


def test_bad_label_lines_are_listed_with_their_line_numbers(tmp_path: Path) -> None:
    make_image(tmp_path / "images" / "a.png")
    (tmp_path / "classes.txt").write_text("dent\n")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text(
        "0 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2\n0 x 0.5 0.1 0.1\n"
        "0 0.95 0.5 0.2 0.2\n0 0.1 0.1 0.2 0.1 0.3 0.3\n"
    )
    with pytest.raises(InvalidInput) as caught:
        read_yolo(tmp_path)
    message = caught.value.message
    assert "4 problem(s)" in message
    for text in ("line 2: a.txt: class 1", "line 3: a.txt: 3 values", "line 4: a.txt:", "line 5: a.txt: box"):
        assert text in message
    with pytest.raises(NotFound):
        read_yolo(tmp_path / "nowhere")


def test_export_without_boxes_is_refused(tmp_path: Path) -> None:
    dataset = Dataset([Sample(make_image(tmp_path / "a.png"), 0)])
    with pytest.raises(InvalidInput, match="no boxes"):
        write_yolo(dataset, tmp_path / "out")


def test_connected_regions_are_eight_connected() -> None:
    import numpy as np

    mask = np.zeros((6, 6), dtype=bool)
    mask[0, 0] = mask[1, 1] = True  # diagonal neighbours: one region
    mask[4:6, 3:6] = True
    assert connected_regions(mask) == [((0, 0, 1, 1), 2), ((3, 4, 5, 5), 6)]
