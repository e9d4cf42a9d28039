"""Core models: normalised float NCHW at the config's ``input_size`` in, logits or scores out.

- classification -> logits [N, C]
- segmentation -> (image logits [N, C], mask logits [N, K, h, w])
- anomaly (:mod:`dda.ml.models.anomaly`) -> (scores [N], anomaly_map [N, h, w])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from dda.core.errors import InvalidInput
from dda.ml.models.classification import ClassificationModel, build_classification_model
from dda.ml.models.segmentation import SegmentationModel, build_segmentation_model

MODEL_TYPES = ("classification", "segmentation", "anomaly")

__all__ = [
    "MODEL_TYPES",
    "ClassificationModel",
    "SegmentationModel",
    "build_classification_model",
    "build_core_module",
    "build_segmentation_model",
]


def build_core_module(config: Mapping[str, Any], pretrained: bool = False) -> nn.Module:
    """An untrained core module with the architecture an artifact's ``config`` describes.

    Artifacts load their weights into it, so ``pretrained`` is off by default: no ImageNet file
    needs to be present to load a trained model.
    """
    model_type = config.get("model_type")
    backbone = str(config.get("backbone", "mobilenet_v2"))
    if model_type == "classification":
        return build_classification_model(backbone, len(config["class_names"]), pretrained=pretrained)
    if model_type == "segmentation":
        return build_segmentation_model(
            backbone, len(config["class_names"]), len(config["mask_class_names"]), pretrained=pretrained
        )
    if model_type == "anomaly":
        from dda.ml.models.anomaly import build_from_config

        module: nn.Module = build_from_config(dict(config))
        return module
    raise InvalidInput(
        f"unknown model type {model_type!r} in the model config",
        hint=f"model_type must be one of {', '.join(MODEL_TYPES)}",
    )
