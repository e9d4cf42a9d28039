"""`dda data` end to end through the CLI: synth, info, validate, transform, import/export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dda.cli.main import app

runner = CliRunner()
COOKIE_PREFIX = "s3://dda-cookie-dataset-571264418424/cookies/"


@pytest.fixture
def synth_dir(tmp_path: Path) -> Path:
    out = tmp_path / "synth"
    result = runner.invoke(
        app,
        ["data", "synth", str(out), "--count", "8", "--product", "metal", "--seed", "1", "--size", "64x80"],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 8 metal images" in result.output
    return out


def test_synth_writes_images_masks_and_both_manifests(synth_dir: Path) -> None:
    assert len(list((synth_dir / "images").glob("*.png"))) == 8
    assert len(list((synth_dir / "masks").glob("*.png"))) == 8
    assert (synth_dir / "groundtruth.manifest").is_file() and (synth_dir / "dda.manifest").is_file()


def test_info_counts_classes_and_masks(synth_dir: Path) -> None:
    result = runner.invoke(app, ["data", "info", str(synth_dir / "groundtruth.manifest")])
    assert result.exit_code == 0, result.output
    assert "normal=4, anomaly=4" in result.output
    assert "8 lines name a mask" in result.output
    as_json = runner.invoke(app, ["data", "info", "--json", str(synth_dir / "dda.manifest")])
    info = json.loads(as_json.output)
    assert info["format"] == "dda" and info["images_per_class"] == {"normal": 4, "anomaly": 4}
    assert info["mask_classes"] == ["background", "scratch", "spot", "crack", "missing"]


def test_validate_ok_and_transform(synth_dir: Path, tmp_path: Path) -> None:
    ok = runner.invoke(app, ["data", "validate", str(synth_dir / "groundtruth.manifest")])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip().endswith("OK")
    out = synth_dir / "transformed.manifest"
    done = runner.invoke(app, ["data", "transform", str(synth_dir / "groundtruth.manifest"), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert "wrote 8 lines" in done.output and "synthetic-metal-classification" in done.output
    assert (
        json.loads(out.read_text().splitlines()[0])["anomaly-label-metadata"]["job-name"] == "anomaly-label"
    )
    same = runner.invoke(app, ["data", "transform", str(out), "-o", str(out)])
    assert same.exit_code == 1 and "is the input" in same.output


def test_validate_prints_every_problem_with_line_and_fix_and_exits_1(synth_dir: Path, tmp_path: Path) -> None:
    lines = (synth_dir / "groundtruth.manifest").read_text().splitlines()
    lines[2] = lines[2].replace("images/metal-0002.png", "images/gone.png")
    lines[5] = "{oops"
    broken = synth_dir / "broken.manifest"
    broken.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["data", "validate", str(broken)])
    assert result.exit_code == 1
    assert "line 3: error [source-ref]: image images/gone.png" in result.output
    assert "line 6: error: line is not valid JSON" in result.output
    assert result.output.count("fix: ") == 2
    assert "INVALID" in result.output
    as_json = runner.invoke(app, ["data", "validate", "--json", str(broken)])
    report = json.loads(as_json.output)
    assert [p["line"] for p in report["problems"]] == [3, 6] and report["ok"] is False
    refused = runner.invoke(app, ["data", "transform", str(broken), "-o", str(tmp_path / "x.manifest")])
    assert refused.exit_code == 1 and not (tmp_path / "x.manifest").exists()
    forced = runner.invoke(
        app, ["data", "transform", str(broken), "-o", str(tmp_path / "x.manifest"), "--force"]
    )
    assert forced.exit_code == 0 and "skipped lines: 3, 6" in forced.output


def test_export_and_import_coco_and_yolo(synth_dir: Path, tmp_path: Path) -> None:
    coco = runner.invoke(
        app, ["data", "export", "coco", str(synth_dir / "dda.manifest"), "-o", str(tmp_path / "c")]
    )
    assert coco.exit_code == 0, coco.output
    imported = runner.invoke(
        app, ["data", "import", "coco", str(tmp_path / "c" / "annotations.json"), "-o", str(tmp_path / "ci")]
    )
    assert imported.exit_code == 0, imported.output
    assert "normal=4, anomaly=4" in imported.output
    check = runner.invoke(app, ["data", "validate", str(tmp_path / "ci" / "dda.manifest")])
    assert check.exit_code == 0, check.output
    yolo = runner.invoke(
        app, ["data", "export", "yolo", str(synth_dir / "dda.manifest"), "-o", str(tmp_path / "y")]
    )
    assert yolo.exit_code == 0, yolo.output
    assert "deriving them from the masks" in yolo.output
    back = runner.invoke(app, ["data", "import", "yolo", str(tmp_path / "y"), "-o", str(tmp_path / "yi")])
    assert back.exit_code == 0, back.output
    assert "normal=4, anomaly=4" in back.output
    info = json.loads(
        runner.invoke(app, ["data", "info", "--json", str(tmp_path / "yi" / "dda.manifest")]).output
    )
    assert info["box_classes"] == ["scratch", "spot", "crack", "missing"] and info["boxes"] >= 4


def test_errors_print_error_and_fix(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["data", "info", str(tmp_path / "nope.manifest")])
    assert missing.exit_code == 1
    assert "error: manifest" in missing.output and "fix:" in missing.output
    bad_map = runner.invoke(app, ["data", "validate", str(tmp_path), "--map", "nonsense"])
    assert bad_map.exit_code == 1 and "PREFIX=LOCATION" in bad_map.output
    bad_product = runner.invoke(app, ["data", "synth", str(tmp_path / "s"), "--product", "pretzel"])
    assert bad_product.exit_code == 1 and "cookie, texture, metal" in bad_product.output
    bad_size = runner.invoke(app, ["data", "synth", str(tmp_path / "s"), "--size", "big"])
    assert bad_size.exit_code == 1 and "HEIGHTxWIDTH" in bad_size.output


def test_real_cookie_manifest_via_map(cookies_dir: Path, tmp_path: Path) -> None:
    manifest = cookies_dir / "dataset-files" / "manifests" / "train_segmentation.manifest"
    mapping = f"{COOKIE_PREFIX}={cookies_dir}/"
    ok = runner.invoke(app, ["data", "validate", str(manifest), "--map", mapping])
    assert ok.exit_code == 0, ok.output
    assert "63 lines, 63 usable; 0 error(s), 0 warning(s)" in ok.output
    assert "normal=31, anomaly=32" in ok.output
    out = tmp_path / "dda-cookies.manifest"
    done = runner.invoke(app, ["data", "transform", str(manifest), "-o", str(out), "--map", mapping])
    assert done.exit_code == 0, done.output
    assert "wrote 63 lines" in done.output
    again = runner.invoke(app, ["data", "validate", str(out), "-m", mapping])
    assert again.exit_code == 0, again.output
    assert COOKIE_PREFIX not in out.read_text()  # the mapped locations were written, as --help says
    plain = runner.invoke(app, ["data", "validate", str(out)])
    assert plain.exit_code == 0, plain.output
    unmapped = runner.invoke(app, ["data", "validate", str(manifest), "--no-check-files"])
    assert unmapped.exit_code == 0  # the manifest itself is fine; only its files are elsewhere
