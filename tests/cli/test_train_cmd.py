"""`dda train | evaluate | predict` through the real CLI app, on a synthetic DDA manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dda.cli.main import app
from dda.formats.writers import write_dda_manifest
from tests.ml.test_train import make_disc_dataset

runner = CliRunner()


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    dataset = make_disc_dataset(tmp_path / "discs")
    return write_dda_manifest(dataset, tmp_path / "discs" / "dda.manifest")


@pytest.mark.slow
def test_train_evaluate_predict_round_trip(manifest: Path, tmp_path: Path) -> None:
    model = tmp_path / "out" / "model.tar.gz"
    result = runner.invoke(
        app,
        [
            "train",
            str(manifest),
            "--type",
            "segmentation",
            "--epochs",
            "2",
            "--input-size",
            "64x64",
            "--out",
            str(model),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert model.is_file() and (tmp_path / "out" / "model.ckpt").is_file()
    for row in ("accuracy", "F1 (anomaly)", "image AUROC", "defect IoU", "verdict rule"):
        assert row in result.output

    metrics_file = tmp_path / "metrics.json"
    result = runner.invoke(
        app, ["evaluate", str(model), str(manifest), "--json", str(metrics_file), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(metrics_file.read_text())
    assert metrics["num_images"] == 16 and metrics["image"]["auroc"] is not None
    assert metrics["pixel"]["pixel_auroc"] is not None

    out = tmp_path / "pred"
    images = manifest.parent
    result = runner.invoke(app, ["predict", str(model), str(images / "img001.png"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "img001.json").read_text())
    assert record["verdict"] in ("normal", "anomaly") and "crack" in record["class_areas_pct"]
    assert (out / "img001_overlay.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "img001_mask.png").is_file()

    result = runner.invoke(app, ["predict", str(model), str(images), "-o", str(out), "--format", "jpg"])
    assert result.exit_code == 0, result.output
    listed = json.loads((out / "predictions.json").read_text())
    assert len(listed) == len(list(images.glob("*.png")))
    assert (out / "img002_overlay.jpg").read_bytes().startswith(b"\xff\xd8")


def test_bad_input_prints_the_problem_and_the_fix(manifest: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", str(manifest), "--input-size", "big", "--no-progress"])
    assert result.exit_code == 1
    assert "HEIGHTxWIDTH" in result.output and "fix:" in result.output
    result = runner.invoke(app, ["evaluate", str(tmp_path / "nope.tar.gz"), str(manifest)])
    assert result.exit_code == 1 and "does not exist" in result.output
    bogus = tmp_path / "model.tar.gz"
    bogus.write_bytes(b"not a model")
    result = runner.invoke(app, ["predict", str(bogus), str(manifest.parent)])
    assert result.exit_code == 1 and "dda train" in result.output
    result = runner.invoke(app, ["train", str(tmp_path / "missing.manifest"), "--no-progress"])
    assert result.exit_code == 1 and "fix:" in result.output


def test_commands_are_listed_in_help() -> None:
    result = runner.invoke(app, ["--help"])
    for command in ("train", "evaluate", "predict"):
        assert command in result.output
    result = runner.invoke(app, ["train", "--help"])
    assert "--type" in result.output and "--map" in result.output


def test_train_prechecks_images_and_names_a_corrupt_file(manifest: Path, tmp_path: Path) -> None:
    (manifest.parent / "img003.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    result = runner.invoke(
        app, ["train", str(manifest), "--out", str(tmp_path / "m.tar.gz"), "--no-progress"]
    )
    assert result.exit_code == 1
    assert "img003.png" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m.tar.gz").exists()


def test_unmatched_map_prefix_is_reported_with_a_suggestion(manifest: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.tar.gz"
    result = runner.invoke(
        app, ["evaluate", str(missing), str(manifest), "--map", "s3://nowhere/=/tmp/", "--no-progress"]
    )
    assert result.exit_code == 1
    assert "matches no file" in result.output and "s3://nowhere/" in result.output


@pytest.mark.slow
def test_default_auto_training_reports_its_choice_and_threshold(manifest: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "m.tar.gz")
    args = ["train", str(manifest), "--input-size", "64x64", "--out", out, "--max-false-reject", "0.02"]
    result = runner.invoke(app, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "chosen:" in result.output and "threshold report" in result.output
    assert "cross-validation" in result.output
