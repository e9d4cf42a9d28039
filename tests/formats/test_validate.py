"""Validation finds every problem of a manifest, each on its own line, each with a fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dda.core.errors import NotFound
from dda.formats.problems import Severity
from dda.formats.validate import validate_manifest
from tests.formats.conftest import make_gt_mask, make_image, write_lines

RED, BLUE = (230, 25, 75), (0, 130, 200)
COLOUR_MAP = {
    "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"},
    "1": {"class-name": "scratch", "hex-color": "#e6194b"},
}


def line(
    image: str,
    label: int | None = 0,
    name: str | None = "normal",
    *,
    mask: str | None = None,
    colour_map: Any = COLOUR_MAP,
    boxes: list[dict[str, Any]] | None = None,
    size: tuple[int, int] = (64, 48),
) -> dict[str, Any]:
    record: dict[str, Any] = {"source-ref": image}
    if label is not None:
        record["qa"] = label
    meta: dict[str, Any] = {"job-name": "labeling-job/qa", "type": "groundtruth/image-classification"}
    if name is not None:
        meta["class-name"] = name
    record["qa-metadata"] = meta
    if mask is not None:
        seg_meta: dict[str, Any] = {"type": "groundtruth/semantic-segmentation"}
        if colour_map is not None:
            seg_meta["internal-color-map"] = colour_map
        record["qa-seg-ref"] = mask
        record["qa-seg-ref-metadata"] = seg_meta
    if boxes is not None:
        record["qa-box"] = {
            "annotations": boxes,
            "image_size": [{"width": size[0], "height": size[1], "depth": 3}],
        }
        record["qa-box-metadata"] = {"class-map": {"0": "chip"}, "type": "groundtruth/object-detection"}
    return record


@pytest.fixture
def broken_manifest(tmp_path: Path) -> tuple[Path, dict[int, str], dict[int, str]]:
    """A manifest with one known problem per line; returns (path, errors by line, warnings by line)."""
    for name in ("ok", "ok2", "ok3", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"):
        make_image(tmp_path / f"{name}.png")
    make_image(tmp_path / "tiny.png", size=(10, 10))
    (tmp_path / "garbage.png").write_bytes(b"this is not a png at all")
    whole = make_image(tmp_path / "whole.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(whole[: len(whole) // 2])
    defect = np.zeros((48, 64), dtype=np.uint8)
    defect[10:20, 10:30] = 1
    make_gt_mask(tmp_path / "defect.png", defect, {1: RED})
    make_gt_mask(tmp_path / "small-defect.png", np.ones((32, 32), dtype=np.uint8), {1: RED})
    Image.new("RGB", (16, 16), (255, 255, 255)).save(tmp_path / "dummy.png")  # the cookie set's shared mask
    box = {"class_id": 0, "left": 5, "top": 5, "width": 10, "height": 10}
    lines: list[dict[str, Any] | str] = [
        line("ok.png"),  # 1: fine
        '{"source-ref": "a.png", ',  # 2
        "[1, 2]",  # 3
        {"qa": 0, "qa-metadata": {"class-name": "normal", "type": "groundtruth/image-classification"}},  # 4
        line("a.png", label=None),  # 5
        line("b.png", label="1"),  # type: ignore[arg-type]  # 6
        line("c.png", label=1, name=None),  # 7
        line("ok2.png", 1, "scratch", mask="defect.png"),  # 8: fine, defines 1 = scratch
        line("d.png", 1, "dent"),  # 9: id 1 renamed
        line("e.png", 2, "scratch"),  # 10: name scratch renumbered
        line("missing.png"),  # 11
        line("garbage.png"),  # 12
        line("tiny.png"),  # 13
        line("f.png", 1, "scratch", mask="small-defect.png"),  # 14: mask size differs
        line("g.png", 0, "normal", mask="defect.png"),  # 15: normal image with defect pixels
        line("ok3.png", 0, "normal", mask="dummy.png"),  # 16: shared dummy mask: fine
        line(
            "h.png",
            1,
            "scratch",
            mask="defect.png",
            colour_map={"1": {"class-name": "scratch", "hex-color": "red"}},
        ),  # 17
        line("i.png", 1, "scratch", mask="defect.png", colour_map=None),  # 18
        line("j.png", 1, "scratch", boxes=[{**box, "left": 60}]),  # 19: box leaves the image
        line("k.png", 1, "scratch", boxes=[box], size=(100, 100)),  # 20: image_size is wrong
        line("l.png", 1, "scratch", boxes=[{**box, "class_id": 7}]),  # 21: class_id not in class-map
        line("ok.png"),  # 22: duplicate of line 1 (warning)
        line("m.png", 1, "scratch", mask="nowhere.png"),  # 23: mask file missing
        line("ok2.png", 1, "scratch"),  # 24: a defect without a mask in a segmentation manifest (warning)
        "",  # 25: blank lines are skipped but counted
        {"qa": 0},  # 26
        line(
            "n.png",
            1,
            "scratch",
            mask="defect.png",
            colour_map={"1": {"class-name": "scratch", "hex-color": "#0082c8"}},
        ),  # 27: second colour
        line("truncated.png"),  # 28: header fine, pixels cut off
    ]
    errors = {
        2: "not valid JSON",
        3: "not an object",
        4: "'source-ref' is missing",
        5: "'qa' is missing",
        6: "not a class id",
        7: "no 'class-name'",
        9: "named 'dent' here but 'scratch' on line 8",
        10: "'scratch' has id 2 here but id 1 on line 8",
        11: "does not exist",
        12: "not usable: this is an unrecognised file type",
        13: "10x10 pixels",
        14: "is 32x32 but the image is 64x48",
        15: "marks 200 defect pixels",
        17: "hex-color 'red'",
        18: "no 'internal-color-map'",
        19: "leaves the 64x48 image",
        20: "image_size says 100x100",
        21: "class_id 7 is not in the class-map",
        23: "nowhere.png",
        26: "'source-ref' is missing",
        27: "colour #0082c8 here but #e6194b on line 8",
        28: "truncated.png is not usable",
    }
    warnings = {22: "also on line 1", 24: "no defect pixels"}
    return write_lines(tmp_path / "broken.manifest", lines), errors, warnings


def test_every_problem_is_reported_on_its_line(
    broken_manifest: tuple[Path, dict[int, str], dict[int, str]],
) -> None:
    path, errors, warnings = broken_manifest
    report = validate_manifest(path, progress=False)
    assert not report.ok
    found_errors = {p.line: p for p in report.problems.errors}
    assert sorted(found_errors) == sorted(errors), [p.format() for p in report.sorted_problems]
    for number, text in errors.items():
        assert text in found_errors[number].message, found_errors[number].format()
        assert found_errors[number].fix  # every problem says how to fix it
    found_warnings = {p.line: p for p in report.problems.warnings}
    assert sorted(found_warnings) == sorted(warnings)
    for number, text in warnings.items():
        assert text in found_warnings[number].message
    # Lines 1, 8 and 16 (the dummy mask) are clean and their files were read.
    assert {1, 8, 16} <= set(report.infos)
    assert report.infos[16].mask is None


def test_problem_format_names_line_severity_and_fix(
    broken_manifest: tuple[Path, dict[int, str], dict[int, str]],
) -> None:
    report = validate_manifest(broken_manifest[0], progress=False)
    text = report.sorted_problems[0].format()
    assert text.startswith("line 2: error: line is not valid JSON")
    assert "\n  fix: " in text
    assert report.sorted_problems[0].to_dict()["severity"] == "error"


def test_without_file_checks_only_manifest_problems_remain(
    broken_manifest: tuple[Path, dict[int, str], dict[int, str]],
) -> None:
    path, errors, _ = broken_manifest
    report = validate_manifest(path, check_files=False, progress=False)
    file_lines = {11, 12, 13, 14, 15, 19, 20, 23, 28}
    assert sorted(p.line for p in report.problems.errors) == sorted(set(errors) - file_lines)


def test_dda_manifest_requires_label_metadata_fields(tmp_path: Path) -> None:
    make_image(tmp_path / "a.png")
    lines = [
        {
            "source-ref": "a.png",
            "anomaly-label": 0,
            "anomaly-label-metadata": {
                "class-name": "normal",
                "job-name": "anomaly-label",
                "human-annotated": "yes",
                "creation-date": "2026-01-01T00:00:00Z",
                "type": "groundtruth/image-classification",
            },
        },
        {"source-ref": "a.png", "anomaly-label": 1, "anomaly-label-metadata": {"class-name": "anomaly"}},
        {"source-ref": "a.png", "anomaly-label": 1},
        {"source-ref": "a.png", "anomaly-label": -1, "anomaly-label-metadata": {"class-name": "anomaly"}},
    ]
    report = validate_manifest(write_lines(tmp_path / "dda.manifest", lines), progress=False)
    assert report.parsed.format == "dda"
    by_line = {(p.line, p.severity) for p in report.problems.items if p.line}
    assert (2, Severity.WARNING) in by_line  # lacks job-name, human-annotated, creation-date, type
    assert (3, Severity.ERROR) in by_line  # no metadata at all
    assert (4, Severity.ERROR) in by_line  # negative label


def test_empty_and_missing_manifests(tmp_path: Path) -> None:
    report = validate_manifest(write_lines(tmp_path / "empty.manifest", []), progress=False)
    assert [p.message for p in report.problems.errors] == ["manifest empty.manifest has no records"]
    with pytest.raises(NotFound, match="does not exist"):
        validate_manifest(tmp_path / "nope.manifest")


def test_all_normal_manifest_is_valid_with_a_warning(tmp_path: Path) -> None:
    make_image(tmp_path / "a.png")
    report = validate_manifest(write_lines(tmp_path / "m.manifest", [line("a.png")]), progress=False)
    assert report.ok
    assert [p.message for p in report.problems.warnings] == ["every image is labeled normal"]
