"""Real external ONNX models for the bring-your-own-model tests: tiny torch networks exported to
ONNX the way another team would (their own input name, layout, class order and normalisation), and
a reference that runs such a file directly with ONNX Runtime, pre-processing in numpy."""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from torch import nn


class TinyClassifier(nn.Module):
    def __init__(self, classes: int = 3, nhwc: bool = False, softmax: bool = False) -> None:
        super().__init__()
        self.nhwc, self.softmax = nhwc, softmax
        self.conv = nn.Conv2d(3, 6, 3, stride=2)
        self.fc = nn.Linear(6, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.nhwc:
            x = x.permute(0, 3, 1, 2)
        logits = self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))
        return torch.softmax(logits, dim=1) if self.softmax else logits


class TinySegmenter(nn.Module):
    """Per-pixel logits [N, K, H/stride, W/stride] (K = 1: a defect logit)."""

    def __init__(self, channels: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(8, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(torch.relu(self.conv1(x)))


def to_onnx(
    module: nn.Module,
    shape: tuple[int, ...],
    *,
    opset: int = 17,
    dynamic: dict[str, dict[int, str]] | None = None,
    input_name: str = "pixel_values",
    output_names: tuple[str, ...] = ("logits",),
) -> bytes:
    torch.manual_seed(0)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            (torch.zeros(shape),),
            buffer,
            input_names=[input_name],
            output_names=list(output_names),
            opset_version=opset,
            dynamo=False,
            dynamic_axes=dynamic,
        )
    return buffer.getvalue()


def make_classifier(seed: int = 0, **kwargs: Any) -> TinyClassifier:
    torch.manual_seed(seed)
    return TinyClassifier(**kwargs)


def make_segmenter(seed: int = 0, **kwargs: Any) -> TinySegmenter:
    torch.manual_seed(seed)
    return TinySegmenter(**kwargs)


def sample_frames(count: int, size: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    """Varied uint8 RGB frames: noise, gradients and blobs of different brightness."""
    rng = np.random.default_rng(seed)
    height, width = size
    images = []
    for i in range(count):
        base = rng.integers(0, 256, (height, width, 3)).astype(np.float32) * rng.uniform(0.1, 1.0)
        yy, xx = np.mgrid[0:height, 0:width]
        blob = np.exp(
            -((yy - rng.uniform(0, height)) ** 2 + (xx - rng.uniform(0, width)) ** 2) / (2 * (3 + i) ** 2)
        )
        base[..., i % 3] += 200 * blob
        images.append(np.clip(base, 0, 255).astype(np.uint8))
    return images


def direct_outputs(onnx_bytes: bytes, spec: dict[str, Any], image: np.ndarray) -> np.ndarray:
    """Run the external file directly: numpy pre-processing (image already at its input size)."""
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    x = image.astype(np.float32)
    if spec.get("channel_order", "RGB") == "BGR":
        x = x[..., ::-1]
    x = (x * np.float32(spec.get("scale", 1 / 255)) - np.asarray(spec["mean"], np.float32)) / np.asarray(
        spec["std"], np.float32
    )
    x = x[None] if spec.get("layout", "NCHW") == "NHWC" else x.transpose(2, 0, 1)[None]
    name = session.get_inputs()[0].name
    return np.asarray(session.run(None, {name: np.ascontiguousarray(x, np.float32)})[0])


def softmax(values: np.ndarray, axis: int) -> np.ndarray:
    shifted = np.exp(values - values.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def direct_score(onnx_bytes: bytes, spec: dict[str, Any], image: np.ndarray) -> float:
    """Anomaly score as the contract defines it, from the raw file: 1 - P(normal) for a classifier,
    the peak of 1 - P(background) for a segmenter."""
    out = direct_outputs(onnx_bytes, spec, image)
    logits = spec.get("output_kind", "logits") == "logits"
    if spec["model_type"] == "classification":
        values = out.reshape(-1)
        if values.size == 1:
            p = 1 / (1 + np.exp(-values[0])) if logits else values[0]
            return float(p)
        probs = softmax(values, 0) if logits else values
        from dda.ml.onnx_import import parse_spec

        return float(1.0 - probs[parse_spec(spec).normal_index()])
    probs = softmax(out[0], 0) if logits else out[0]
    return float((1.0 - probs[spec.get("background_channel", 0)]).max())


def threshold_between(scores: list[float]) -> float:
    """A threshold halfway between the two middle scores, so both verdicts occur and none ties."""
    ordered = sorted(scores)
    middle = len(ordered) // 2
    return (ordered[middle - 1] + ordered[middle]) / 2
