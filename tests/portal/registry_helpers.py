"""Real model artifacts for the registry tests: a tiny `dda.ml` training run (1 epoch, 32x32)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import torch

from dda.ml.artifact import load_artifact, save_artifact
from dda.ml.training import TrainOptions, train_model
from tests.ml.test_train import make_disc_dataset

TINY = TrainOptions(input_size=(32, 32), epochs=1, batch_size=8, pretrained=False)


def train_tiny_artifact(root: Path) -> Path:
    """A real classification model.tar.gz from one epoch on 8 synthetic disc images."""
    torch.set_num_threads(2)
    dataset = make_disc_dataset(root / "discs", n_per_class=4, size=48)
    return train_model(
        dataset, "classification", root / "model.tar.gz", options=TINY, progress=False
    ).artifact_path


def with_metrics(artifact: Path, out: Path, **changes: object) -> Path:
    """The same model re-saved by dda.ml with other validation metrics (a second 'version')."""
    trained = load_artifact(artifact)
    metrics = {**trained.metrics, **changes}
    return save_artifact(out, trained.module, trained.config, metrics, trained.plots)


@functools.cache
def shared_tiny_artifact() -> Path:
    """One trained artifact per test process (training is the slow part); read-only for tests."""
    root = Path(tempfile.mkdtemp(prefix="dda-registry-tests-"))
    atexit.register(shutil.rmtree, root, True)
    return train_tiny_artifact(root)
