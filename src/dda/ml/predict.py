"""From model outputs to a verdict, with the torch model (training, evaluation, ``dda predict``).

Single images go through :func:`dda.runtime.postprocess.post_process`, the very code the station
and the Triton package run, so ``dda predict`` decides exactly as a deployed model. Training and
evaluation work on whole batches with the vectorised equivalents below, which reduce each image
to one score per verdict rule (for AUROC and threshold calibration):

- **classification**: ``anomaly_score = 1 - P(normal)``; anomalous when ``> threshold``; the label
  is the most likely defect class.
- **segmentation**: ``cls = 1 - P(normal)`` from the image head; ``seg`` is the k-th largest pixel
  defect probability (``anomaly_map = 1 - P(background)``), k = ``min_defect_area_pct`` % of the
  map's pixels (at least 1). So ``seg > t`` exactly when at least that much area has defect
  probability ``> t``, the runtime's segmentation-head rule with ``pixel_threshold = t``. The
  ``verdict_rule`` combines them: ``cls_head`` -> cls, ``seg_head`` -> seg, ``cls_or_seg`` ->
  max(cls, seg), ``cls_and_seg`` -> min(cls, seg); anomalous when ``> threshold``. Training sets
  ``pixel_threshold = threshold`` so that both readings agree.
- **anomaly**: ``anomaly_score`` is the model's image score; anomalous when ``> threshold``; the
  defect region is where the anomaly map is ``> pixel_threshold``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dda.ml.artifact import TrainedModel
from dda.ml.data import load_rgb
from dda.ml.deploy import DeployModule, build_deploy_module, contract_outputs, output_names
from dda.runtime.postprocess import PostProcessConfig, post_process
from dda.runtime.types import Prediction


def area_scores(anomaly_map: np.ndarray, min_defect_area_pct: float) -> np.ndarray:
    """Per image, the k-th largest pixel value (k = min area % of the pixels): [N, h, w] -> [N]."""
    maps = np.asarray(anomaly_map, dtype=np.float32)
    flat = maps.reshape(maps.shape[0], -1)
    k = max(1, math.ceil(flat.shape[1] * float(min_defect_area_pct) / 100.0))
    k = min(k, flat.shape[1])
    return np.partition(flat, flat.shape[1] - k, axis=1)[:, flat.shape[1] - k]


def image_anomaly_scores(
    probs: np.ndarray, anomaly_map: np.ndarray | None, config: Mapping[str, Any], rule: str | None = None
) -> np.ndarray:
    """One score per image (higher = more anomalous) from batched outputs [N, C] and [N, h, w]."""
    probs = np.asarray(probs, dtype=np.float64)
    model_type = config["model_type"]
    if model_type == "anomaly":
        return probs[:, 0]
    cls = 1.0 - probs[:, 0]
    if model_type == "classification" or anomaly_map is None:
        return cls
    seg = area_scores(anomaly_map, config.get("min_defect_area_pct", 0.0)).astype(np.float64)
    rule = rule or config.get("verdict_rule", "cls_or_seg")
    if rule == "cls_head":
        return cls
    if rule == "seg_head":
        return seg
    if rule == "cls_and_seg":
        return np.minimum(cls, seg)
    return np.maximum(cls, seg)


def pixel_threshold(config: Mapping[str, Any]) -> float:
    value = config.get("pixel_threshold")
    return float(config["threshold"] if value is None else value)


def predicted_labels(probs: np.ndarray, anomalous: np.ndarray, config: Mapping[str, Any]) -> np.ndarray:
    """Class id per image: 0 when normal, else the most likely defect class (1 for anomaly models)."""
    probs = np.asarray(probs)
    if config["model_type"] == "anomaly" or probs.shape[1] < 2:
        return anomalous.astype(np.int64)
    defect = probs[:, 1:].argmax(axis=1) + 1
    return np.where(anomalous, defect, 0).astype(np.int64)


def defect_masks(
    anomaly_map: np.ndarray, class_map: np.ndarray | None, config: Mapping[str, Any]
) -> np.ndarray:
    """uint8 class ids [N, h, w]: defect where the anomaly map reaches the pixel threshold; the
    class is the most likely defect class of the class map (1 without one)."""
    on = np.asarray(anomaly_map) > pixel_threshold(config)
    if class_map is None or class_map.shape[1] < 2:
        return on.astype(np.uint8)
    ids = np.asarray(class_map)[:, 1:].argmax(axis=1) + 1
    return np.where(on, ids, 0).astype(np.uint8)


class Predictor:
    """Runs a trained model's deploy module on single images and decides like the runtime does."""

    def __init__(self, trained: TrainedModel) -> None:
        self.trained = trained
        self.config = trained.config
        self.module = build_deploy_module(trained)
        self.post_config = PostProcessConfig.from_mapping(trained.config)

    @torch.inference_mode()
    def predict(self, image: np.ndarray) -> Prediction:
        """``image``: uint8 RGB [H, W, 3]. Maps and mask come back at the image's size."""
        start = time.perf_counter()
        tensors = self.module(torch.from_numpy(np.ascontiguousarray(image)))
        outputs = {
            name: t.numpy() for name, t in zip(output_names(self.config["model_type"]), tensors, strict=True)
        }
        infer_ms = (time.perf_counter() - start) * 1000.0
        result = post_process(outputs, image, self.post_config)
        return Prediction(
            **result,
            timings_ms={"inference": infer_ms, "total": (time.perf_counter() - start) * 1000.0},
            model_name=str(self.config.get("dataset_name", self.config["model_type"])),
            model_version=str(self.config.get("training_id", "")),
        )

    @torch.inference_mode()
    def predict_batch(self, images: list[np.ndarray]) -> list[Prediction]:
        """Like :meth:`predict` for several images, with one forward pass of the core model over the
        batch (each image is resized exactly as the deploy module resizes it). ``dda predict`` runs
        folders this way: per image it costs about what ``dda evaluate`` does."""
        if not images:
            return []
        if not isinstance(self.module, DeployModule):  # an imported ONNX model: one image at a time
            return [self.predict(image) for image in images]
        start = time.perf_counter()
        batch = torch.cat([self.module.preprocess(torch.from_numpy(np.ascontiguousarray(i))) for i in images])
        raw = self.module.core(batch)
        tensors = [t.numpy() for t in contract_outputs(raw, self.config["model_type"], batch)]
        infer_ms = (time.perf_counter() - start) * 1000.0 / len(images)
        names = output_names(self.config["model_type"])
        predictions = []
        for index, image in enumerate(images):
            begin = time.perf_counter()
            outputs = {name: t[index] for name, t in zip(names, tensors, strict=True)}
            result = post_process(outputs, image, self.post_config)
            post_ms = (time.perf_counter() - begin) * 1000.0
            predictions.append(
                Prediction(
                    **result,
                    timings_ms={"inference": infer_ms, "total": infer_ms + post_ms},
                    model_name=str(self.config.get("dataset_name", self.config["model_type"])),
                    model_version=str(self.config.get("training_id", "")),
                )
            )
        return predictions

    def predict_file(self, path: Path) -> Prediction:
        return self.predict(load_rgb(path))


def prediction_record(prediction: Prediction, source: str) -> dict[str, Any]:
    """The JSON-ready part of a prediction (no arrays)."""
    return {
        "image": source,
        "verdict": prediction.verdict,
        "label": prediction.label,
        "confidence": round(prediction.confidence, 6),
        "anomaly_score": round(prediction.anomaly_score, 6),
        "threshold": round(prediction.threshold, 6),
        "class_areas_pct": {k: round(v, 4) for k, v in prediction.class_areas.items()},
        "timings_ms": {k: round(v, 2) for k, v in prediction.timings_ms.items()},
    }
