"""`dda evaluate` / `dda predict` on what ships: an export folder and a signed package archive, run
through the station's runtime; and the package archive that must not overwrite a released one."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dda.cli.main import app
from dda.core.errors import InvalidInput
from dda.core.signing import generate_keypair
from dda.formats.dataset import Dataset
from dda.formats.writers import write_dda_manifest
from dda.ml.artifact import load_artifact
from dda.ml.export import export_trained
from dda.ml.export.images import load_image_set, split_held_out
from dda.ml.shipped import evaluate_shipped, open_shipped, shipped_kind
from dda.ml.training import TrainOptions, evaluate_model, train_model
from dda.packaging import archive_package, build_package
from tests.ml.test_train import make_disc_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, Path, Path, Path]:
    root = tmp_path_factory.mktemp("shipped")
    dataset = make_disc_dataset(root / "discs", n_per_class=6)
    options = TrainOptions(input_size=(64, 64), cv_folds=3, method="linear", plots=False)
    artifact = train_model(dataset, "auto", root / "m.tar.gz", options=options, progress=False).artifact_path
    export = export_trained(load_artifact(artifact), "x86_64-cpu", root / "export").out_dir
    return dataset, artifact, export, root


@pytest.mark.slow
def test_export_and_package_are_measured_through_the_runtime(
    shipped: tuple[Dataset, Path, Path, Path],
) -> None:
    dataset, artifact, export, root = shipped
    assert shipped_kind(export) == "export" and shipped_kind(artifact) is None
    reference = evaluate_model(load_artifact(artifact), dataset, progress=False)
    with open_shipped(export) as model:
        metrics = evaluate_shipped(model, dataset)
    assert metrics["precision"] == "fp32" and metrics["runtime"] == "onnxruntime"
    assert metrics["num_images"] == len(dataset)
    assert abs(metrics["image"]["auroc"] - reference["image"]["auroc"]) < 0.02
    private, _ = generate_keypair()
    package = build_package(export, None, root / "pkg", private, name="discs", version="1.0.0")
    archive = archive_package(package)
    assert shipped_kind(archive) == "archive"
    with open_shipped(archive) as model:
        assert (
            evaluate_shipped(model, dataset)["image"]["confusion_matrix"]
            == metrics["image"]["confusion_matrix"]
        )
    with pytest.raises(InvalidInput, match="already exists"):
        archive_package(package)  # a released archive is never silently replaced
    assert archive_package(package, overwrite=True) == archive


@pytest.mark.slow
def test_cli_evaluate_and_predict_accept_an_export_folder(
    shipped: tuple[Dataset, Path, Path, Path], tmp_path: Path
) -> None:
    dataset, artifact, export, root = shipped
    manifest = write_dda_manifest(dataset, tmp_path / "dda.manifest")
    done = runner.invoke(app, ["evaluate", str(export), str(manifest), "--no-progress"])
    assert done.exit_code == 0, done.output
    assert "fp32" in done.output and "threshold report" in done.output
    images = root / "discs"
    out = tmp_path / "pred"
    predicted = runner.invoke(app, ["predict", str(export), str(images), "-o", str(out)])
    assert predicted.exit_code == 0, predicted.output
    assert len(list(out.glob("*_overlay.png"))) == len(list(images.glob("*.png")))  # images and masks
    batched = runner.invoke(app, ["predict", str(artifact), str(images), "-o", str(tmp_path / "p2")])
    assert batched.exit_code == 0, batched.output


def test_golden_images_are_held_out_from_calibration(tmp_path: Path) -> None:
    dataset = make_disc_dataset(tmp_path / "discs", n_per_class=6)
    images = load_image_set(write_dda_manifest(dataset, tmp_path / "m.manifest"), limit=None)
    calibration, golden = split_held_out(images, 6)
    assert len(calibration) == 6 and len(golden) == 6
    assert not set(calibration.names) & set(golden.names)
    assert golden.labels is not None and 0 < sum(golden.labels) < len(golden)
    assert "held out" in golden.source
