"""A real SIGTERM to a real `dda train` process: it stops, saves, and says so with exit code 130."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dda.formats.writers import write_dda_manifest
from dda.ml.artifact import load_artifact
from dda.ml.training.checkpoint import read_checkpoint
from tests.ml.test_train import make_disc_dataset


@pytest.mark.slow
def test_sigterm_mid_training_leaves_a_loadable_checkpoint_and_artifact(tmp_path: Path) -> None:
    manifest = write_dda_manifest(make_disc_dataset(tmp_path / "discs"), tmp_path / "discs" / "dda.manifest")
    model = tmp_path / "model.tar.gz"
    checkpoint = tmp_path / "model.ckpt"
    command = [
        sys.executable, "-c", "from dda.cli.main import main; main()",
        "train", str(manifest), "--type", "classification", "--epochs", "200", "--input-size", "64x64",
        "--out", str(model), "--no-progress",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while not checkpoint.exists():  # the first epoch has finished once its checkpoint exists
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "no checkpoint after 300 s"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, output
    assert "SIGTERM" in output and "interrupted" in output
    trained = load_artifact(model)
    assert trained.config["completed"] is False
    assert trained.metrics["stop_reason"] == "interrupted (SIGTERM)"
    assert trained.metrics["epochs_run"] < 200
    payload = read_checkpoint(checkpoint)
    assert payload["completed"] is False and payload["epoch"] >= 1
    assert load_artifact(checkpoint).config["training_id"] == trained.config["training_id"]
