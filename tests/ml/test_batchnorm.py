"""Evaluation-mode BatchNorm statistics and the segmentation head's prior.

Regression for the synthetic-cookie segmentation whose validation pixel AUROC was 0.19 (worse
than chance): the decoder's freshly initialised BatchNorm layers had seen six training steps, so
their running statistics (moved 10 % a step from mean 0 / variance 1) were far from the data's.
The eval-mode model that validation, early stopping, export and the station use therefore
normalised with the wrong statistics and ranked defect pixels below background; the same weights
with batch statistics ranked them well (0.78).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dda.formats.loader import load_dataset
from dda.formats.synthetic import generate_synthetic_dataset
from dda.ml.artifact import load_artifact
from dda.ml.data import DefectImageDataset, stratified_split
from dda.ml.models.segmentation import DEFECT_PRIOR, build_segmentation_model
from dda.ml.training import TrainOptions, train_model
from dda.ml.training.batchnorm import recalibrate_batchnorm, training_batchnorms
from tests.ml.test_train import make_disc_dataset


def _decoder_batchnorms(model: nn.Module) -> list[nn.BatchNorm2d]:
    return [
        m
        for name, m in model.named_modules()
        if isinstance(m, nn.BatchNorm2d) and not name.startswith("backbone")
    ]


def _inputs_of(model: nn.Module, layers: list[nn.BatchNorm2d], images: torch.Tensor) -> list[torch.Tensor]:
    """What each of ``layers`` receives when the eval-mode ``model`` runs on ``images``."""
    seen: dict[int, torch.Tensor] = {}

    def keep(module: nn.Module, args: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        seen[id(module)] = args[0]

    hooks = [layer.register_forward_hook(keep) for layer in layers]
    try:
        with torch.no_grad():
            model.eval()(images)
    finally:
        for hook in hooks:
            hook.remove()
    return [seen[id(layer)] for layer in layers]


def test_recalibrated_statistics_are_those_of_the_data() -> None:
    torch.manual_seed(0)
    conv, norm, dropout = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5)
    model = nn.Sequential(conv, norm, nn.ReLU(), dropout)
    model.train()
    layers = training_batchnorms(model)
    assert layers == [norm]
    images = torch.rand(12, 3, 16, 16) * 5 + 2  # far from mean 0 / variance 1

    recalibrate_batchnorm(model, layers, [images[:6], images[6:]])
    features = conv(images)
    assert norm.running_mean is not None and norm.running_var is not None
    assert torch.allclose(norm.running_mean, features.mean(dim=(0, 2, 3)), atol=1e-4)
    # The variance is the mean of the two batches' variances: close, not exact.
    assert torch.allclose(norm.running_var, features.var(dim=(0, 2, 3)), rtol=0.02)
    assert norm.momentum == 0.1 and model.training and dropout.training  # modes restored


def test_a_new_segmentation_model_calls_few_pixels_defective() -> None:
    """Prior initialisation: without it a 4-class head starts at P(defect) = 0.75 on every pixel."""
    model = build_segmentation_model("mobilenet_v2", 2, 4, pretrained=False).eval()
    with torch.no_grad():
        _, mask_logits = model(torch.randn(2, 3, 64, 64))
    defect = 1.0 - torch.softmax(mask_logits, dim=1)[:, 0]
    assert float(defect.mean()) < 5 * DEFECT_PRIOR


@pytest.mark.slow
def test_after_one_epoch_eval_statistics_are_those_of_the_training_images(tmp_path: Path) -> None:
    discs = make_disc_dataset(tmp_path / "discs")
    options = TrainOptions(input_size=(64, 64), batch_size=4, epochs=1, val_fraction=0.25)
    result = train_model(discs, "segmentation", tmp_path / "seg.tar.gz", options=options, progress=False)
    trained = load_artifact(result.artifact_path)
    train_idx, _ = stratified_split([s.label for s in discs.samples], options.val_fraction, options.seed)
    data = DefectImageDataset(discs, (64, 64), trained.config["mean"], trained.config["std"], train_idx)
    images = torch.stack([data[i][0] for i in range(len(data))])
    layers = _decoder_batchnorms(trained.module)
    assert layers
    for layer, seen in zip(layers, _inputs_of(trained.module, layers, images), strict=True):
        assert layer.running_mean is not None and layer.running_var is not None
        mean, var = seen.mean(dim=(0, 2, 3)), seen.var(dim=(0, 2, 3))
        spread = var.sqrt().clamp(min=1e-3)
        # Momentum updates after 3 steps leave these off by tens of percent of a standard deviation.
        assert float(((layer.running_mean - mean).abs() / spread).mean()) < 0.05
        assert float((layer.running_var / var.clamp(min=1e-6)).log().abs().mean()) < 0.1


@pytest.mark.slow
def test_segmentation_ranks_synthetic_cookie_defect_pixels_above_background(tmp_path: Path) -> None:
    """The end-to-end symptom: pixel AUROC below 0.5 on the synthetic cookies after a short run."""
    manifest = generate_synthetic_dataset(
        tmp_path / "cookies", count=40, seed=1, size=(120, 160), image_format="jpg", progress=False
    )
    dataset = load_dataset(manifest, progress=False)
    options = TrainOptions(input_size=(96, 128), batch_size=8, epochs=2, patience=5)
    result = train_model(dataset, "segmentation", tmp_path / "seg.tar.gz", options=options, progress=False)
    pixel = result.metrics["pixel"]
    assert pixel["pixel_auroc"] > 0.75
    # Not "everything is a defect": most background pixels stay background at the threshold.
    assert pixel["per_class"]["background"]["iou"] > 0.9
    assert np.isfinite(result.metrics["image"]["auroc"])
