"""End to end with real trained models: train (tiny) -> `dda export` -> `dda package` -> verify -> runtime.

Models come from ``dda.ml.training.train_model`` on the synthetic disc task of the training tests,
shrunk to 64x64 inputs so the whole chain stays a few seconds per model type: the default model
(``--type auto``: here a logistic head on frozen MobileNetV2 features, exported as a classifier)
and PaDiM.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from dda.cli.main import app
from dda.core.safe_image import decode_image
from dda.ml.artifact import load_artifact
from dda.ml.deploy import build_deploy_module
from dda.ml.export import export_trained, load_image_set, torch_runner
from dda.ml.training import TrainOptions, train_model
from dda.packaging import build_package, read_manifest, verify_package
from dda.runtime import PostProcessConfig, decide, load_predictor
from tests.ml.test_train import make_disc_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def discs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(flat image folder, folder with normal/ and anomaly/ sub-folders for labelled golden images)."""
    root = tmp_path_factory.mktemp("discs")
    dataset = make_disc_dataset(root / "flat")
    labelled = root / "labelled"
    for sample in dataset.samples:
        target = labelled / ("anomaly" if sample.label else "normal")
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample.image_path, target / sample.image_path.name)
    return root / "flat", labelled


@pytest.fixture(scope="module")
def trained(discs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("trained")
    dataset = make_disc_dataset(root / "data")
    out = {}
    for model_type, options in (
        ("auto", TrainOptions(input_size=(64, 64), method="linear")),  # the usual pick; lean
        ("anomaly", TrainOptions(input_size=(64, 64), method="padim")),
    ):
        out[model_type] = train_model(
            dataset, model_type, root / f"{model_type}.tar.gz", options=options, progress=False
        ).artifact_path
    return out


def test_cli_export_int8_package_verify_and_run(
    trained: dict[str, Path], discs: tuple[Path, Path], tmp_path: Path
) -> None:
    """The gate's verdicts are the packaged runtime's: its exact agreement is what the station shows."""
    flat, labelled = discs
    exported, package = tmp_path / "exported", tmp_path / "pkg"
    result = runner.invoke(
        app,
        [
            "export",
            str(trained["auto"]),
            "--target",
            "x86_64-cpu",
            "--int8",
            "--calib",
            str(flat),
            "--golden",
            str(labelled),
            "-o",
            str(exported),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((exported / "parity_report.json").read_text())
    assert report["passed"] and report["precision"] == "int8" and report["images"] == 16
    assert report["metrics"]["verdict_agreement_exact"] >= 0.95
    assert report["metrics"]["auroc_reference"] is not None and report["metrics"]["auroc_delta"] is not None

    result = runner.invoke(
        app,
        ["package", str(exported), "--name", "discs", "--version", "1.0.0", "-o", str(package), "--archive"],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "discs-1.0.0.tar.gz").is_file()
    result = runner.invoke(app, ["package", "verify", str(tmp_path / "discs-1.0.0.tar.gz")])
    assert result.exit_code == 0 and "OK: discs 1.0.0" in result.output

    manifest = read_manifest(package)
    artifact = load_artifact(trained["auto"])
    assert manifest.precision == "int8" and manifest.threshold == artifact.config["threshold"]
    assert manifest.metrics == artifact.metrics and manifest.training_id == artifact.config["training_id"]

    golden = load_image_set(labelled)
    reference = torch_runner(build_deploy_module(artifact), artifact.model_type)
    post = PostProcessConfig.from_mapping(manifest.postprocess_config())
    with load_predictor(package) as predictor:
        runtime = [predictor.predict(image).verdict for image in golden.images]
    expected = [decide(reference(image), post).anomalous for image in golden.images]
    gate = {row["image"]: row["verdict_exported"] for row in report["per_image"]}
    assert runtime == [gate[name] for name in golden.names]  # the gate saw what the station will
    assert np.mean([(v == "anomaly") == e for v, e in zip(runtime, expected, strict=True)]) >= 0.95

    (package / manifest.triton.model_file).write_bytes(b"tampered")
    result = runner.invoke(app, ["package", "verify", str(package)])
    assert result.exit_code == 1 and "changed" in result.output


def test_cli_refusals_and_keygen(trained: dict[str, Path], tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "export",
            str(trained["auto"]),
            "--target",
            "x86_64-cpu",
            "--int8",
            "-o",
            str(tmp_path / "x"),
        ],
    )
    assert result.exit_code == 1 and "calibration images" in result.output
    result = runner.invoke(
        app,
        [
            "export",
            str(trained["auto"]),
            "--target",
            "openvino",
            "--int8",
            "--calib",
            str(tmp_path),
            "-o",
            str(tmp_path / "y"),
        ],
    )
    assert result.exit_code == 1
    keys = tmp_path / "keys"
    assert runner.invoke(app, ["package", "keygen", "--dir", str(keys)]).exit_code == 0
    assert (keys / "signing-key.pem").stat().st_mode & 0o077 == 0
    again = runner.invoke(app, ["package", "keygen", "--dir", str(keys)])
    assert again.exit_code == 1 and "already exists" in again.output
    assert runner.invoke(app, ["package", "keygen", "--dir", str(keys), "--force"]).exit_code == 0
    result = runner.invoke(
        app,
        ["package", "verify", str(tmp_path / "nothing"), "--public-key", str(keys / "signing-key.pub.pem")],
    )
    assert result.exit_code == 1 and "does not exist" in result.output


def test_trained_padim_on_openvino(
    trained: dict[str, Path], discs: tuple[Path, Path], tmp_path: Path
) -> None:
    from dda.core.signing import generate_keypair

    model = load_artifact(trained["anomaly"])
    golden = load_image_set(discs[1])
    result = export_trained(model, "openvino", tmp_path / "ov", golden=golden)
    assert result.report.passed and result.report.metrics["verdict_agreement"] == 1.0
    private, public = generate_keypair()
    package = build_package(tmp_path / "ov", None, tmp_path / "pkg", private, name="discs-padim", version="2")
    manifest = verify_package(package, [public])
    assert manifest.model_type == "anomaly" and manifest.format == "openvino"
    assert manifest.threshold == pytest.approx(model.config["threshold"])
    assert manifest.score_scale is not None and 0 < manifest.score_scale < 1  # from the normal scores
    image = decode_image(next(discs[1].glob("anomaly/*.png")))
    with load_predictor(package) as predictor:
        prediction = predictor.predict(image)
    assert prediction.mask is not None and prediction.mask.shape == image.shape[:2]
    assert np.isfinite(prediction.anomaly_score) and prediction.threshold == pytest.approx(manifest.threshold)
