"""After training: calibrate on validation, compute metrics and draw the plots of the artifact."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dda.core.logging import get_logger
from dda.ml import plots
from dda.ml.data import IGNORE_INDEX, DefectImageDataset
from dda.ml.predict import defect_masks
from dda.ml.training.evaluate import Outputs, decide

log = get_logger(__name__)
MAX_EXAMPLES = 8


def _pick_examples(labels: np.ndarray, predicted: np.ndarray, scores: np.ndarray) -> list[int]:
    """Mistakes first, then the clearest defects and normals, up to MAX_EXAMPLES."""
    wrong = [int(i) for i in np.flatnonzero((labels != 0) != (predicted != 0))]
    defects = [int(i) for i in np.argsort(-scores) if labels[i] != 0 and i not in wrong]
    normals = [int(i) for i in np.argsort(scores) if labels[i] == 0 and i not in wrong]
    chosen = wrong[: MAX_EXAMPLES // 2]
    while len(chosen) < MAX_EXAMPLES and (defects or normals):
        for pool in (defects, normals):
            if pool and len(chosen) < MAX_EXAMPLES:
                chosen.append(pool.pop(0))
    return chosen


def example_overlays(
    outputs: Outputs, data: DefectImageDataset, config: Mapping[str, Any], indices: Sequence[int]
) -> list[dict[str, Any]]:
    scores, predicted = decide(outputs, config)
    names = list(config["class_names"])
    model_type = config["model_type"]
    masks = (
        defect_masks(outputs.anomaly_map, outputs.class_map, config)
        if model_type != "classification"
        else None
    )
    examples = []
    for i in indices:
        image = (data.images[i].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
        verdict = "anomaly" if predicted[i] != 0 else "normal"
        heat = outputs.anomaly_map[i] if model_type == "anomaly" else None
        overlay = plots.render_overlay(
            image, None if masks is None else masks[i], heat, verdict, heat_scale=float(config["threshold"])
        )
        true_mask = None
        if data.masks is not None and not bool((data.masks[i] == IGNORE_INDEX).any()):
            true_mask = data.masks[i].numpy()
        examples.append(
            {
                "overlay": overlay,
                "true": names[int(data.labels[i])],
                "predicted": names[int(predicted[i])] if predicted[i] < len(names) else "anomaly",
                "score": float(scores[i]),
                "true_mask": true_mask,
            }
        )
    return examples


def make_plots(
    history: Sequence[Mapping[str, Any]],
    outputs: Outputs,
    data: DefectImageDataset,
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
) -> dict[str, bytes]:
    """PNG plots by name; a plot that cannot be drawn is skipped with a log line, never fatal."""
    result: dict[str, bytes] = {}
    labels = data.labels.numpy()
    scores, predicted = decide(outputs, config)
    defective = labels != 0
    image_metrics = metrics["image"]
    jobs: list[tuple[str, Any]] = [
        (
            "confusion_matrix",
            lambda: plots.confusion_matrix_png(
                image_metrics["confusion_matrix"],
                image_metrics["labels"],
                f"Validation confusion matrix (threshold {config['threshold']:.3g})",
            ),
        ),
        (
            "examples",
            lambda: plots.examples_png(
                example_overlays(outputs, data, config, _pick_examples(labels, predicted, scores))
            ),
        ),
    ]
    if history:
        jobs.insert(0, ("training_curves", lambda: plots.training_curves_png(history)))
    if defective.any() and (~defective).any():
        jobs.append(("roc_curve", lambda: plots.roc_png(defective, scores, image_metrics.get("auroc"))))
        jobs.append(("pr_curve", lambda: plots.pr_png(defective, scores, float(config["threshold"]))))
    for name, draw in jobs:
        try:
            result[name] = draw()
        except Exception as exc:  # a broken plot must not cost the user the trained model
            log.warning("could not draw plot", plot=name, error=str(exc))
    return result
