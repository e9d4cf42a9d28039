"""Tiny torch modules that follow the deploy-module contract, one per model type, for tests.

Each takes a uint8 [H, W, 3] image of any size and does what ``dda.ml.deploy`` modules do: cast,
permute, bilinear resize to the model size, normalise, a small conv net, then the contract outputs
(see dda.runtime.types). They are real networks with seeded random weights, small enough that
export + ONNX Runtime run in a second on the 2-core test box.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

INPUT_SIZE = (32, 40)
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class TinyContractModel(nn.Module):
    def __init__(
        self, model_type: str, class_names: list[str], mask_class_names: list[str], seed: int = 0
    ) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.model_type = model_type
        self.size = INPUT_SIZE
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1) * 255.0)
        self.trunk = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=1, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.fc = nn.Linear(16, len(class_names))
        self.seg = nn.Conv2d(16, max(2, len(mask_class_names)), 1)
        self.register_buffer("center", torch.randn(1, 16, 1, 1) * 0.1)
        self.trunk.eval()

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        x = image.permute(2, 0, 1).unsqueeze(0).float()
        x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        x = (x - self.mean) / self.std
        feats = self.trunk(x)
        if self.model_type == "classification":
            scores = torch.softmax(self.fc(feats.mean(dim=(2, 3))), dim=1)[0]
            return scores, x[0, 0] * 0.0
        if self.model_type == "segmentation":
            logits = F.interpolate(self.seg(feats), size=self.size, mode="bilinear", align_corners=False)
            class_map = torch.softmax(logits, dim=1)[0]
            scores = torch.softmax(self.fc(feats.mean(dim=(2, 3))), dim=1)[0]
            return scores, 1.0 - class_map[0], class_map
        distance = ((feats - self.center) ** 2).sum(dim=1, keepdim=True)
        amap = F.interpolate(distance, size=self.size, mode="bilinear", align_corners=False)[0, 0]
        return amap.amax().reshape(1), amap


def tiny_config(model_type: str, **overrides: Any) -> dict[str, Any]:
    """A training config as ``dda.ml.artifact`` writes it, for a tiny model."""
    seg = model_type == "segmentation"
    config: dict[str, Any] = {
        "model_type": model_type,
        "backbone": "tiny-cnn",
        "input_size": list(INPUT_SIZE),
        "class_names": ["normal", "anomaly"],
        "mask_class_names": ["background", "crack", "spot"] if seg else ["background", "anomaly"],
        "threshold": 0.5,
        "verdict_rule": "cls_or_seg" if seg else "cls_head",
        "pixel_threshold": 0.5,
        "min_defect_area_pct": 0.0,
        "mean": list(MEAN),
        "std": list(STD),
        "dataset_id": "ds-test",
        "training_id": "tr-test",
        "metrics": {"image_auroc": 0.9},
    }
    config.update(overrides)
    return config


def tiny_model(model_type: str, seed: int = 0, **overrides: Any) -> tuple[TinyContractModel, dict[str, Any]]:
    """A tiny model and its config, thresholds set so synthetic images get both verdicts."""
    config = tiny_config(model_type, **overrides)
    model = TinyContractModel(model_type, config["class_names"], config["mask_class_names"], seed).eval()
    if model_type == "anomaly" and "threshold" not in overrides:
        from dda.ml.export.images import synthetic_image_set

        with torch.inference_mode():
            scores = [float(model(torch.from_numpy(im))[0]) for im in synthetic_image_set(8).images]
            maps = [model(torch.from_numpy(im))[1].numpy() for im in synthetic_image_set(2).images]
        config["threshold"] = float(np.median(scores))
        config["pixel_threshold"] = float(np.quantile(np.concatenate([m.ravel() for m in maps]), 0.9))
    return model, config


def build_test_package(
    root: Path,
    model_type: str,
    private_key: bytes,
    *,
    target: str = "x86_64-cpu",
    name: str | None = None,
    version: str = "1.0.0",
    **overrides: Any,
) -> Path:
    """Export a tiny model for ``target`` and build a signed package from it under ``root``."""
    from dda.ml.export import export_model
    from dda.packaging import build_package

    model, config = tiny_model(model_type, **overrides)
    exported = root / f"export-{model_type}-{target}"
    export_model(model, config, target, exported)
    return build_package(
        exported,
        None,
        root / f"pkg-{model_type}-{target}",
        private_key,
        name=name or f"tiny-{model_type}",
        version=version,
    )
