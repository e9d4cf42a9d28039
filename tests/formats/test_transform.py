"""GT -> DDA transform: renamed attributes, normal = 0, validation before writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dda.core.errors import InvalidInput
from dda.formats.loader import load_dataset
from dda.formats.manifest import parse_manifest
from dda.formats.transform import require_distinct, transform_gt_to_dda
from dda.formats.validate import validate_manifest
from tests.formats.conftest import make_gt_mask, make_image, mask_ids, write_lines
from tests.formats.test_validate import line


def test_synthetic_gt_transforms_to_an_equivalent_dda_manifest(
    synthetic_cookies: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "dda.manifest"
    result = transform_gt_to_dda(synthetic_cookies, out, progress=False)
    assert result.ok and result.written == 12
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert {r["anomaly-label-metadata"]["source-job-name"] for r in records} == {
        "labeling-job/synthetic-cookie-classification"
    }
    assert all(r["anomaly-mask-ref-metadata"]["job-name"] == "anomaly-mask-ref" for r in records)
    # Relative references are rewritten to point at the same files from the output's folder.
    assert not Path(records[0]["source-ref"]).is_absolute()
    assert (out.parent / records[0]["source-ref"]).resolve() == (
        synthetic_cookies.parent / "images" / "cookie-0000.png"
    ).resolve()
    gt = load_dataset(synthetic_cookies, progress=False)
    dda = load_dataset(out, progress=False)
    assert dda.class_names == gt.class_names and dda.mask_class_names == gt.mask_class_names
    for a, b in zip(gt.samples, dda.samples, strict=True):
        assert (a.image_path, a.label, a.mask_path) == (b.image_path, b.label, b.mask_path)


def test_normal_class_is_renumbered_to_zero(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        make_image(tmp_path / f"{name}.png")
    lines = [line("a.png", 0, "crack"), line("b.png", 1, "good"), line("c.png", 2, "dent")]
    out = tmp_path / "dda.manifest"
    result = transform_gt_to_dda(write_lines(tmp_path / "gt.manifest", lines), out, progress=False)
    assert result.ok
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["anomaly-label"], r["anomaly-label-metadata"]["class-name"]) for r in records] == [
        (1, "crack"),
        (0, "good"),
        (2, "dent"),
    ]
    assert load_dataset(out, progress=False).class_names == ["normal", "crack", "dent"]


def test_errors_stop_the_write_and_force_skips_bad_lines(tmp_path: Path) -> None:
    make_image(tmp_path / "a.png")
    make_image(tmp_path / "b.png")
    lines: list[dict[str, Any] | str] = [
        line("a.png"),
        line("missing.png"),
        '{"broken',
        line("b.png", 1, "anomaly"),
    ]
    gt = write_lines(tmp_path / "gt.manifest", lines)
    out = tmp_path / "dda.manifest"
    refused = transform_gt_to_dda(gt, out, progress=False)
    assert refused.output is None and not out.exists()
    assert sorted(p.line for p in refused.report.problems.errors) == [2, 3]
    with pytest.raises(InvalidInput, match="line 2"):
        refused.raise_if_failed()
    forced = transform_gt_to_dda(gt, out, force=True, progress=False)
    assert forced.output == out and forced.written == 2 and forced.skipped_lines == [2, 3]
    assert [json.loads(x)["source-ref"] for x in out.read_text().splitlines()] == ["a.png", "b.png"]


def test_no_check_files_transforms_unreachable_manifests(tmp_path: Path) -> None:
    lines = [line("s3://bucket-we-lack/a.jpg"), line("s3://bucket-we-lack/b.jpg", 1, "anomaly")]
    out = tmp_path / "dda.manifest"
    result = transform_gt_to_dda(
        write_lines(tmp_path / "gt.manifest", lines), out, check_files=False, progress=False
    )
    assert result.ok and result.written == 2
    assert parse_manifest(out).format == "dda"
    assert validate_manifest(out, check_files=False, progress=False).ok


def test_segmentation_only_gt_gets_labels_from_masks(tmp_path: Path) -> None:
    make_image(tmp_path / "a.png")
    ids = np.zeros((48, 64), dtype=np.uint8)
    ids[5:9, 5:9] = 1
    make_gt_mask(tmp_path / "m.png", ids, {1: (230, 25, 75)})
    colour_map = {
        "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"},
        "1": {"class-name": "scratch", "hex-color": "#e6194b"},
    }
    record = {
        "source-ref": "a.png",
        "seg-ref": "m.png",
        "seg-ref-metadata": {"internal-color-map": colour_map, "type": "groundtruth/semantic-segmentation"},
    }
    gt = write_lines(tmp_path / "gt.manifest", [record])
    out = tmp_path / "dda.manifest"
    assert transform_gt_to_dda(gt, out, progress=False).ok
    written = json.loads(out.read_text())
    assert written["anomaly-label"] == 1 and written["anomaly-label-metadata"]["class-name"] == "anomaly"
    mask = mask_ids(load_dataset(out, progress=False).samples[0])
    assert int(mask.sum()) == 16
    # Without reading the masks the label is unknown: that line cannot be written.
    blind = transform_gt_to_dda(gt, tmp_path / "blind.manifest", check_files=False, progress=False)
    assert blind.output is None and blind.report.problems.errors[0].line == 1


def test_output_must_not_be_the_input(tmp_path: Path) -> None:
    path = tmp_path / "m.manifest"
    with pytest.raises(InvalidInput, match="is the input"):
        require_distinct(path, tmp_path / "." / "m.manifest")


def test_transform_writes_the_mapped_locations(tmp_path: Path) -> None:
    images = tmp_path / "local"
    make_image(images / "a.png")
    make_image(images / "b.png", seed=1)
    gt = write_lines(
        tmp_path / "gt.manifest",
        [line("s3://bucket/data/a.png"), line("s3://bucket/data/b.png", 1, "anomaly")],
    )
    out = tmp_path / "out" / "dda.manifest"
    result = transform_gt_to_dda(gt, out, mappings={"s3://bucket/data/": f"{images}/"})
    assert result.written == 2
    refs = [json.loads(x)["source-ref"] for x in out.read_text().splitlines()]
    assert refs == [str(images / "a.png"), str(images / "b.png")]
    assert len(load_dataset(out)) == 2  # usable without --map


def test_unmatched_map_prefix_warns_with_the_likely_prefix(tmp_path: Path) -> None:
    from dda.formats.uris import unmatched_mappings

    make_image(tmp_path / "imgs" / "a.png")
    gt = write_lines(tmp_path / "gt.manifest", [line("imgs/a.png")])
    with pytest.warns(UserWarning, match=r"matches no file.*'imgs/'"):
        load_dataset(gt, mappings={"s3://other/": "/nowhere/"})
    refs = ["s3://b/cookies/x/1.jpg", "s3://b/cookies/y/2.jpg"]
    assert unmatched_mappings({"s3://b/cookie/": "/d/"}, refs) == [("s3://b/cookie/", "s3://b/cookies/")]
    assert unmatched_mappings({"s3://b/": "/d/"}, refs) == []
