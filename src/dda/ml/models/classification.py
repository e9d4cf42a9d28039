"""Image classification: a pretrained backbone and a linear head (normal/anomaly or multi-class)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dda.ml.backbones import Backbone, create_backbone


def pooled_features(feature_map: Tensor) -> Tensor:
    """Average and max pooling side by side: the max keeps a small defect from being averaged away."""
    return torch.cat([feature_map.mean(dim=(2, 3)), feature_map.amax(dim=(2, 3))], dim=1)


class ClassificationModel(nn.Module):
    """Normalised float [N, 3, h, w] -> logits [N, C]."""

    def __init__(self, backbone: Backbone, num_classes: int, dropout: float = 0.2) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError("a classifier needs at least two classes")
        self.backbone = backbone
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(2 * backbone.stage_channels[-1], num_classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        last = self.backbone.forward_features(x)[-1]
        logits: Tensor = self.head(pooled_features(last))
        return logits


def build_classification_model(
    backbone: str, num_classes: int, pretrained: bool = True
) -> ClassificationModel:
    return ClassificationModel(create_backbone(backbone, pretrained=pretrained), num_classes)
