"""Device selection (dda.ml.device): auto takes CUDA only when torch sees a GPU, cuda without one
is a clear error before any work, and what a run used is recorded in the model's config.

This machine has no GPU: the CUDA path itself (tensors and model on cuda:0) is not exercised here;
these tests prove auto -> cpu, the error path and that the moved code paths still train on the CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from dda.cli.main import app
from dda.core.errors import InvalidInput
from dda.formats.writers import write_groundtruth_manifest
from dda.ml.artifact import load_artifact
from dda.ml.device import check_amp, describe_device, module_device, resolve_device
from dda.ml.training import TrainOptions, evaluate_model, train_model
from tests.ml.test_train import FAST, make_disc_dataset

HAS_GPU = torch.cuda.is_available()
no_gpu = pytest.mark.skipif(HAS_GPU, reason="checks the no-GPU error path")


def test_auto_takes_cuda_only_when_torch_sees_a_gpu() -> None:
    assert resolve_device("auto").type == ("cuda" if HAS_GPU else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert describe_device(torch.device("cpu")) == "cpu"
    assert module_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    with pytest.raises(InvalidInput, match="unknown device 'tpu'"):
        resolve_device("tpu")


@no_gpu
def test_cuda_without_a_gpu_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_device("cuda")
    assert "sees no CUDA GPU" in caught.value.message
    assert "--device auto or cpu" in (caught.value.hint or "")
    with pytest.raises(InvalidInput, match="mixed precision"):
        check_amp(True, torch.device("cpu"))
    check_amp(False, torch.device("cpu"))


@no_gpu
def test_training_refuses_cuda_and_amp_before_any_work(tmp_path: Path) -> None:
    dataset = make_disc_dataset(tmp_path / "discs", n_per_class=4, size=64)
    for bad in ({"device": "cuda"}, {"amp": True}):
        with pytest.raises(InvalidInput):
            train_model(
                dataset, "classification", tmp_path / "m.tar.gz",
                options=TrainOptions.model_validate({**FAST, "pretrained": False, **bad}), progress=False,
            )  # fmt: skip
    assert not (tmp_path / "m.tar.gz").exists() and not (tmp_path / "m.ckpt").exists()


def test_auto_trains_and_evaluates_on_the_device_it_records(tmp_path: Path) -> None:
    dataset = make_disc_dataset(tmp_path / "discs", n_per_class=6, size=64)
    options = TrainOptions.model_validate({**FAST, "epochs": 1, "pretrained": False, "num_threads": 2})
    result = train_model(dataset, "classification", tmp_path / "m.tar.gz", options=options, progress=False)
    expected = describe_device(resolve_device("auto"))
    assert result.config["device"] == expected and result.config["options"]["device"] == "auto"
    trained = load_artifact(result.artifact_path)
    assert trained.config["device"] == expected
    assert module_device(trained.module).type == "cpu"  # artifacts always hold CPU tensors
    on_cpu = evaluate_model(trained, dataset, progress=False, device="cpu")
    on_auto = evaluate_model(trained, dataset, progress=False, device="auto")
    assert on_cpu["image"]["accuracy"] == pytest.approx(on_auto["image"]["accuracy"])
    assert module_device(trained.module).type == "cpu"  # evaluation moves it back


def test_auto_type_extracts_features_on_the_chosen_device(tmp_path: Path) -> None:
    """--type anomaly: the frozen backbone's feature extraction runs where the options say."""
    dataset = make_disc_dataset(tmp_path / "discs", n_per_class=6, size=64)
    options = TrainOptions(
        input_size=(64, 64), pretrained=False, cv_folds=2, plots=False, num_threads=2, device="cpu"
    )
    result = train_model(dataset, "anomaly", tmp_path / "a.tar.gz", options=options, progress=False)
    assert result.config["device"] == "cpu" and result.artifact_path.is_file()


@no_gpu
def test_cli_device_option(tmp_path: Path) -> None:
    dataset = make_disc_dataset(tmp_path / "discs", n_per_class=4, size=64)
    manifest = write_groundtruth_manifest(dataset, tmp_path / "gt.manifest", job="discs")
    ran = CliRunner().invoke(
        app, ["train", str(manifest), "--type", "classification", "--device", "cuda", "--no-progress",
              "-o", str(tmp_path / "m.tar.gz")],
    )  # fmt: skip
    assert ran.exit_code == 1, ran.output
    assert "sees no CUDA GPU" in ran.output and "--device auto or cpu" in ran.output
    assert "Traceback" not in ran.output
    bad = CliRunner().invoke(app, ["train", str(manifest), "--device", "gpu"])
    assert bad.exit_code == 2
