"""Anomaly models on the real cookie photos: fit on normal cookies only, find the broken ones.

A fixed, seeded split: 15 normal images to fit, the other 16 normals and all 32 broken cookies
to score. Images are resized the way the deployed model resizes them (bilinear, float pixels).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from dda.ml.backbones import IMAGENET_MEAN, IMAGENET_STD
from dda.ml.metrics import auroc, calibrate_threshold
from dda.ml.models.anomaly import DEFAULT_INPUT_SIZE, fit_anomaly_model

pytestmark = [pytest.mark.slow, pytest.mark.cookies]


def _load(paths: list[Path]) -> torch.Tensor:
    images = [
        torch.from_numpy(np.asarray(Image.open(p).convert("RGB")).copy()).permute(2, 0, 1) for p in paths
    ]
    batch = torch.stack([img.float() for img in images])
    batch = F.interpolate(batch, size=DEFAULT_INPUT_SIZE, mode="bilinear", align_corners=False) / 255.0
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (batch - mean) / std


@functools.cache
def _split(folder: Path) -> dict[str, torch.Tensor]:
    normals = sorted(folder.glob("normal-*.jpg"))
    defects = sorted(folder.glob("anomaly-*.jpg"))
    assert len(normals) >= 20 and len(defects) >= 20
    order = np.random.default_rng(0).permutation(len(normals))
    train = [normals[i] for i in order[:15]]
    held_out = [normals[i] for i in order[15:]]
    return {"train": _load(train), "normal": _load(held_out), "defect": _load(defects)}


@pytest.fixture
def cookie_split(cookies_dir: Path) -> dict[str, torch.Tensor]:
    return _split(cookies_dir / "dataset-files" / "training-images")


@pytest.mark.parametrize("method", ["padim", "patchcore"])
def test_broken_cookies_score_above_normal_ones(method: str, cookie_split: dict[str, torch.Tensor]) -> None:
    torch.set_num_threads(2)
    model = fit_anomaly_model(cookie_split["train"].split(8), method, progress=False)
    with torch.inference_mode():
        normal_scores = torch.cat([model(b)[0] for b in cookie_split["normal"].split(8)]).numpy()
        defect_scores = torch.cat([model(b)[0] for b in cookie_split["defect"].split(8)]).numpy()
    scores = np.r_[normal_scores, defect_scores]
    labels = np.r_[np.zeros(len(normal_scores)), np.ones(len(defect_scores))]
    assert auroc(labels, scores) >= 0.9
    # Unseen normal cookies stay around the normal-score scale (1.0); most broken ones exceed it.
    assert float(np.median(normal_scores)) < 1.0 < float(np.median(defect_scores))
    threshold, rule = calibrate_threshold(scores, labels)
    predicted = scores >= threshold
    assert rule.startswith("best F1") and predicted[labels == 1].mean() >= 0.8
