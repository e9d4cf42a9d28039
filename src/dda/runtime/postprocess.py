"""Post-processing: raw model outputs -> verdict, mask, per-class areas and an overlay image.

This module is deliberately self-contained (numpy, and OpenCV or Pillow for resizing; no ``dda``
imports): the packager copies it verbatim into the Triton post-processing model of every package,
where DDA is not installed. The station runtime imports it like any other module. Keep it that way.

Decision rules (docs/model-contract.md has the full table):

- ``classification``: anomaly score = 1 - P(normal); anomalous when score > ``threshold``.
- ``segmentation``: the classification head decides as above; the segmentation head is anomalous
  when the defect area (pixels with P(defect) > ``pixel_threshold``) is above zero and at least
  ``min_defect_area_pct`` percent of the image. ``verdict_rule`` combines the two
  (``cls_head | seg_head | cls_and_seg | cls_or_seg``).
- ``anomaly``: the image score (PaDiM / PatchCore) against ``threshold``; the mask is the
  anomaly map above ``pixel_threshold``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

try:  # OpenCV resizes 4x faster than Pillow; the station has it, a bare Triton image may not.
    import cv2

    _HAVE_CV2 = True
except ImportError:  # pragma: no cover - exercised where OpenCV is absent
    from PIL import Image

    _HAVE_CV2 = False

MODEL_TYPES = ("classification", "segmentation", "anomaly")
VERDICT_RULES = ("cls_head", "seg_head", "cls_and_seg", "cls_or_seg")
RED = np.array([230, 40, 40], dtype=np.uint16)
GREEN = (40, 180, 70)
TINT_ALPHA_256 = 115  # ~45 % red over the defect region, in 1/256 steps (integer blend is faster)


@dataclass(frozen=True)
class PostProcessConfig:
    """What post-processing needs from the package manifest."""

    model_type: str
    labels: tuple[str, ...]
    mask_labels: tuple[str, ...]
    threshold: float
    pixel_threshold: float
    verdict_rule: str = "cls_head"
    min_defect_area_pct: float = 0.0
    score_scale: float | None = None  # anomaly models: spread of scores, for the confidence

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PostProcessConfig:
        """Build from a manifest or training config dict (keys as in ``manifest.json``)."""
        model_type = str(data["model_type"])
        if model_type not in MODEL_TYPES:
            raise ValueError(f"unknown model_type {model_type!r}; expected one of {MODEL_TYPES}")
        rule = str(data.get("verdict_rule") or "cls_head")
        if rule not in VERDICT_RULES:
            raise ValueError(f"unknown verdict_rule {rule!r}; expected one of {VERDICT_RULES}")
        labels = tuple(data.get("labels") or data.get("class_names") or ("normal", "anomaly"))
        mask_labels = tuple(data.get("mask_labels") or data.get("mask_class_names") or ())
        if not mask_labels:
            mask_labels = ("background", "anomaly")
        threshold = float(data.get("threshold", 0.5))
        pixel = data.get("pixel_threshold")
        scale = data.get("score_scale")
        return cls(
            model_type=model_type,
            labels=labels,
            mask_labels=mask_labels,
            threshold=threshold,
            pixel_threshold=threshold if pixel is None else float(pixel),
            verdict_rule=rule,
            min_defect_area_pct=float(data.get("min_defect_area_pct") or 0.0),
            score_scale=None if scale is None else float(scale),
        )


@dataclass(frozen=True)
class Decision:
    """The image-level outcome, computed at model resolution (cheap; used by the parity gate)."""

    anomalous: bool
    label: str
    confidence: float
    anomaly_score: float
    threshold: float
    model_mask: np.ndarray | None  # uint8 [h, w] class ids at model resolution
    class_areas: dict[str, float]
    # One score per image on a fixed scale, for ranking images (AUROC): unlike anomaly_score it
    # does not switch heads with the verdict under cls_and_seg / cls_or_seg.
    ranking_score: float = 0.0


def _classification_head(scores: np.ndarray, cfg: PostProcessConfig) -> tuple[bool, str, float, float]:
    """(anomalous, label, confidence, score) from class probabilities; index 0 is normal."""
    probs = np.asarray(scores, dtype=np.float32).reshape(-1)
    score = float(1.0 - probs[0])
    anomalous = score > cfg.threshold
    if not anomalous or probs.size < 2:
        return anomalous, cfg.labels[0], float(probs[0]), score
    best = 1 + int(np.argmax(probs[1:]))
    label = cfg.labels[best] if best < len(cfg.labels) else f"class_{best}"
    return anomalous, label, score, score


def _areas(mask: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    counts = np.bincount(mask.reshape(-1), minlength=len(names))
    total = float(mask.size) or 1.0
    return {
        names[k] if k < len(names) else f"class_{k}": 100.0 * float(counts[k]) / total
        for k in range(1, counts.size)
    }


def _class_ids(class_map: np.ndarray) -> np.ndarray:
    """The most likely defect class (1..K-1) per pixel of a [K, h, w] softmax."""
    return np.asarray(1 + np.argmax(class_map[1:], axis=0), dtype=np.uint8)


def _segmentation_mask(
    anomaly_map: np.ndarray, class_map: np.ndarray | None, pixel_threshold: float
) -> np.ndarray:
    defect = anomaly_map > pixel_threshold
    if class_map is None or class_map.shape[0] < 3:  # one defect class: the mask is binary
        return defect.astype(np.uint8)
    return np.where(defect, _class_ids(class_map), np.uint8(0))


def _sigmoid_confidence(score: float, threshold: float, scale: float | None, anomalous: bool) -> float:
    spread = scale if scale and scale > 0 else max(abs(threshold) * 0.1, 1e-6)
    z = max(min((score - threshold) / spread, 50.0), -50.0)
    p_anomaly = 1.0 / (1.0 + math.exp(-z))
    return p_anomaly if anomalous else 1.0 - p_anomaly


def decide(outputs: Mapping[str, np.ndarray], cfg: PostProcessConfig) -> Decision:
    """Apply the model type's verdict rule to one image's raw outputs."""
    scores = np.asarray(outputs["scores"]).reshape(-1)
    if cfg.model_type == "classification":
        anomalous, label, conf, score = _classification_head(scores, cfg)
        return Decision(anomalous, label, conf, score, cfg.threshold, None, {}, score)
    amap = np.asarray(outputs["anomaly_map"], dtype=np.float32)
    if cfg.model_type == "anomaly":
        score = float(scores[0])
        anomalous = score > cfg.threshold
        mask = (amap > cfg.pixel_threshold).astype(np.uint8)
        label = (cfg.labels[1] if len(cfg.labels) > 1 else "anomaly") if anomalous else cfg.labels[0]
        conf = _sigmoid_confidence(score, cfg.threshold, cfg.score_scale, anomalous)
        areas = _areas(mask, cfg.mask_labels)
        return Decision(anomalous, label, conf, score, cfg.threshold, mask, areas, score)
    return _decide_segmentation(scores, amap, outputs.get("class_map"), cfg)


def _decide_segmentation(
    scores: np.ndarray, amap: np.ndarray, class_map: np.ndarray | None, cfg: PostProcessConfig
) -> Decision:
    cls_anomalous, cls_label, _, cls_score = _classification_head(scores, cfg)
    mask = _segmentation_mask(amap, None if class_map is None else np.asarray(class_map), cfg.pixel_threshold)
    areas = _areas(mask, cfg.mask_labels)
    defect_pct = sum(areas.values())
    seg_anomalous = defect_pct > 0.0 and defect_pct >= cfg.min_defect_area_pct
    seg_score = float(amap.max()) if amap.size else 0.0
    seg_label = max(areas, key=lambda k: areas[k]) if seg_anomalous else cfg.labels[0]
    rule = cfg.verdict_rule
    if rule == "seg_head":
        conf = seg_score if seg_anomalous else 1.0 - seg_score
        return Decision(
            seg_anomalous, seg_label, conf, seg_score, cfg.pixel_threshold, mask, areas, seg_score
        )
    if rule == "cls_head":
        anomalous, seg_decides = cls_anomalous, False
    elif rule == "cls_and_seg":  # normal as soon as one head says so; report the one that did
        anomalous = cls_anomalous and seg_anomalous
        seg_decides = cls_anomalous and not seg_anomalous
    else:  # cls_or_seg: anomalous as soon as one head says so; report the one that did
        anomalous = cls_anomalous or seg_anomalous
        seg_decides = seg_anomalous and not cls_anomalous
    # The mask names the defect more precisely than the image head when it found one.
    defect_label = seg_label if seg_anomalous else cls_label
    label = defect_label if anomalous else cfg.labels[0]
    score, threshold = (seg_score, cfg.pixel_threshold) if seg_decides else (cls_score, cfg.threshold)
    conf = score if anomalous else 1.0 - score
    return Decision(anomalous, label, conf, score, threshold, mask, areas, cls_score)


def resize_map(values: np.ndarray, height: int, width: int, nearest: bool = False) -> np.ndarray:
    """Resize a 2-D float32 or uint8 map to (height, width)."""
    if values.shape == (height, width):
        return values
    if _HAVE_CV2:
        interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
        return np.asarray(cv2.resize(values, (width, height), interpolation=interp))
    resample = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    mode = "L" if values.dtype == np.uint8 else "F"
    src = values if mode == "L" else values.astype(np.float32)
    return np.asarray(Image.fromarray(src, mode=mode).resize((width, height), resample))


def _erode(region: np.ndarray) -> np.ndarray:
    inner = region.copy()
    inner[1:, :] &= region[:-1, :]
    inner[:-1, :] &= region[1:, :]
    inner[:, 1:] &= region[:, :-1]
    inner[:, :-1] &= region[:, 1:]
    return inner


def render_overlay(image: np.ndarray, mask: np.ndarray | None, anomalous: bool) -> np.ndarray:
    """The input with defect pixels tinted red and outlined, and a verdict-coloured border."""
    out = image.copy()
    height, width = out.shape[:2]
    if mask is not None and mask.any():
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        # Work inside the defect's bounding box: the mask is usually a small part of the image.
        region = mask[r0:r1, c0:c1] > 0
        box = out[r0:r1, c0:c1]
        tinted = (box[region].astype(np.uint16) * (256 - TINT_ALPHA_256) + RED * TINT_ALPHA_256) >> 8
        box[region] = tinted.astype(np.uint8)
        inner = region
        for _ in range(max(1, min(height, width) // 400)):
            inner = _erode(inner)
        box[region & ~inner] = RED.astype(np.uint8)
    thickness = max(2, min(height, width) // 100)
    color = RED.astype(np.uint8) if anomalous else np.array(GREEN, dtype=np.uint8)
    out[:thickness] = color
    out[-thickness:] = color
    out[:, :thickness] = color
    out[:, -thickness:] = color
    return out


def post_process(
    outputs: Mapping[str, np.ndarray], image: np.ndarray, cfg: PostProcessConfig, draw_overlay: bool = True
) -> dict[str, Any]:
    """Everything a :class:`dda.runtime.types.Prediction` holds, as keyword arguments."""
    decision = decide(outputs, cfg)
    height, width = image.shape[:2]
    mask = anomaly_map = None
    if decision.model_mask is not None:
        # Threshold the upsampled map (smooth edges) rather than upsampling the blocky model mask.
        anomaly_map = resize_map(np.asarray(outputs["anomaly_map"], dtype=np.float32), height, width)
        defect = anomaly_map > cfg.pixel_threshold
        class_map = outputs.get("class_map")
        if class_map is not None and np.asarray(class_map).shape[0] > 2:
            ids = resize_map(_class_ids(np.asarray(class_map)), height, width, nearest=True)
            mask = np.where(defect, ids, np.uint8(0))
        else:
            mask = defect.astype(np.uint8)
    overlay = render_overlay(image, mask, decision.anomalous) if draw_overlay else image
    return {
        "verdict": "anomaly" if decision.anomalous else "normal",
        "label": decision.label,
        "confidence": float(decision.confidence),
        "anomaly_score": float(decision.anomaly_score),
        "threshold": float(decision.threshold),
        "mask": mask,
        "anomaly_map": anomaly_map,
        "class_areas": decision.class_areas,
        "overlay": overlay,
    }
