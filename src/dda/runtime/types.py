"""The inference contract shared by export, packaging, the runtime and the station.

Exported ONNX models (see docs/model-contract.md) take one input ``image``: uint8 [H, W, 3] RGB of
any size (resize and normalisation are baked into the graph) and return:

- ``scores``: float32 [C]: for classification and segmentation, class probabilities over the
  package's ``labels`` (index 0 is ``normal``); for anomaly detection, [1]: the image anomaly score.
- ``anomaly_map``: float32 [h, w] at the model input size: per-pixel defect probability
  (segmentation: 1 - P(background)) or anomaly score (PaDiM/PatchCore). Classification models
  return a map of zeros.
- ``class_map`` (segmentation only): float32 [K, h, w], per-pixel softmax over mask classes.

The runtime turns these into a :class:`Prediction`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

Verdict = Literal["normal", "anomaly"]
ModelType = Literal["classification", "segmentation", "anomaly"]
VerdictRule = Literal["cls_head", "seg_head", "cls_and_seg", "cls_or_seg"]

INPUT_NAME = "image"
OUTPUT_SCORES = "scores"
OUTPUT_ANOMALY_MAP = "anomaly_map"
OUTPUT_CLASS_MAP = "class_map"


@dataclass
class Prediction:
    """What one inference on one image concluded."""

    verdict: Verdict
    label: str
    confidence: float
    anomaly_score: float
    threshold: float
    mask: np.ndarray | None  # uint8 [H, W] class ids at the input image size, 0 = background
    anomaly_map: np.ndarray | None  # float32 [H, W] at the input image size
    class_areas: dict[str, float]  # percent of the image covered by each defect class
    overlay: np.ndarray  # uint8 [H, W, 3] RGB: the input with the defect region drawn
    timings_ms: dict[str, float] = field(default_factory=dict)
    model_name: str = ""
    model_version: str = ""


@runtime_checkable
class InferenceBackend(Protocol):
    """Runs an exported model: ONNX Runtime, OpenVINO, or a remote Triton server."""

    name: str

    def forward(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """Run the model on one uint8 [H, W, 3] RGB image; return the named outputs."""
        ...

    def close(self) -> None: ...
