"""The deployable module: raw uint8 image in, the runtime contract's outputs out.

It bakes pre-processing into the graph (cast, HWC -> NCHW, bilinear resize to the model input
size, /255, mean/std) and post-processing into probabilities, so an exported ONNX model takes one
camera frame of any size (see :mod:`dda.runtime.types`). The forward has no Python control flow
on tensor shapes, so ``torch.onnx.export`` keeps H and W dynamic; the branch on ``model_type`` is
fixed when the module is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dda.core.errors import InvalidInput
from dda.runtime.types import OUTPUT_ANOMALY_MAP, OUTPUT_CLASS_MAP, OUTPUT_SCORES

if TYPE_CHECKING:
    from dda.ml.artifact import TrainedModel


def output_names(model_type: str) -> list[str]:
    """ONNX output names, in the order :class:`DeployModule` returns them."""
    if model_type == "segmentation":
        return [OUTPUT_SCORES, OUTPUT_ANOMALY_MAP, OUTPUT_CLASS_MAP]
    return [OUTPUT_SCORES, OUTPUT_ANOMALY_MAP]


def contract_outputs(raw: Any, model_type: str, x: Tensor) -> tuple[Tensor, ...]:
    """Batched contract outputs from a core module's raw output on the normalised batch ``x``:
    (scores [N, C], anomaly_map [N, h, w][, class_map [N, K, h, w]]); anomaly scores are [N, 1]."""
    if model_type == "classification":
        # Zeros derived from the input rather than a constant, so the graph output is a real node.
        return torch.softmax(raw, dim=1), x[:, 0] * 0.0
    if model_type == "segmentation":
        image_logits, mask_logits = raw
        class_map = torch.softmax(mask_logits, dim=1)
        return torch.softmax(image_logits, dim=1), 1.0 - class_map[:, 0], class_map
    scores, anomaly_map = raw
    return scores.reshape(-1, 1), anomaly_map


class DeployModule(nn.Module):
    """uint8 [H, W, 3] RGB (any H, W) -> the contract outputs for one image (no batch dim).

    - classification: (scores = softmax [C], anomaly_map = zeros [h, w])
    - segmentation: (scores = softmax [C], anomaly_map = 1 - P(background) [h, w], class_map [K, h, w])
    - anomaly: (scores = [score], anomaly_map [h, w])
    """

    mean: Tensor
    std: Tensor

    def __init__(
        self,
        core: nn.Module,
        model_type: str,
        input_size: Sequence[int],
        mean: Sequence[float],
        std: Sequence[float],
    ) -> None:
        super().__init__()
        if model_type not in ("classification", "segmentation", "anomaly"):
            raise InvalidInput(
                f"unknown model type {model_type!r}", hint="classification, segmentation or anomaly"
            )
        self.core = core.eval()
        self.model_type = model_type
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, 3, 1, 1))

    def preprocess(self, image: Tensor) -> Tensor:
        x = image.to(torch.float32).permute(2, 0, 1).unsqueeze(0)
        x = F.interpolate(x, size=self.input_size, mode="bilinear", align_corners=False)
        return (x / 255.0 - self.mean) / self.std

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        x = self.preprocess(image)
        outputs = contract_outputs(self.core(x), self.model_type, x)
        return tuple(output[0] for output in outputs)


def build_deploy_module(trained: TrainedModel) -> nn.Module:
    """Wrap a trained model's core module for export and single-image inference (eval mode).
    An imported ONNX model (:mod:`dda.ml.onnx_import`) already is one and is returned as it is."""
    from dda.ml.onnx_module import OnnxContractModule

    if isinstance(trained.module, OnnxContractModule):
        return trained.module.eval()
    config = trained.config
    module = DeployModule(
        trained.module, config["model_type"], config["input_size"], config["mean"], config["std"]
    )
    return module.eval()
