"""Run a model over images, decide like the runtime, calibrate thresholds and compute metrics."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from dda.core.errors import InvalidInput
from dda.formats.dataset import Dataset
from dda.ml.artifact import TrainedModel
from dda.ml.data import IGNORE_INDEX, DefectImageDataset
from dda.ml.deploy import contract_outputs
from dda.ml.metrics import auroc, calibrate_threshold, classification_metrics, segmentation_metrics
from dda.ml.predict import defect_masks, image_anomaly_scores, predicted_labels

VERDICT_RULES = ("cls_or_seg", "cls_head", "seg_head", "cls_and_seg")  # preference order on ties
DEFAULT_THRESHOLD = 0.5


@dataclass
class Outputs:
    """Contract outputs over a set of images: probs [N, C] (anomaly: [N, 1] scores), anomaly_map
    [N, h, w], class_map [N, K, h, w] (segmentation) and the mean loss when a loss was given."""

    probs: np.ndarray
    anomaly_map: np.ndarray
    class_map: np.ndarray | None
    loss: float | None = None


def collect_outputs(
    module: nn.Module,
    model_type: str,
    data: DefectImageDataset,
    batch_size: int = 16,
    loss_fn: Callable[[Any, Tensor, Tensor | None], Tensor] | None = None,
    progress: bool = False,
) -> Outputs:
    """Run the core module in eval mode over ``data`` (no augmentation). An imported ONNX model
    (:class:`dda.ml.onnx_module.OnnxContractModule`) runs on the resized uint8 pixels instead."""
    from dda.ml.onnx_module import OnnxContractModule

    if isinstance(module, OnnxContractModule):
        return _collect_contract_outputs(module, data)
    from dda.ml.device import module_device

    device = module_device(module)
    was_training = module.training
    module.eval()
    parts: list[tuple[np.ndarray, ...]] = []
    losses: list[float] = []
    batches = data.batches(batch_size)
    total = (len(data) + batch_size - 1) // batch_size
    with torch.inference_mode():
        for images, labels, masks in tqdm(
            batches, total=total, desc="evaluating", disable=not progress, leave=False
        ):
            images, labels = images.to(device), labels.to(device)
            masks = masks.to(device) if masks is not None else None
            raw = module(images)
            if loss_fn is not None:
                losses.append(float(loss_fn(raw, labels, masks)) * len(labels))
            parts.append(tuple(o.float().cpu().numpy() for o in contract_outputs(raw, model_type, images)))
    module.train(was_training)
    probs = np.concatenate([p[0] for p in parts])
    anomaly_map = np.concatenate([p[1] for p in parts])
    class_map = np.concatenate([p[2] for p in parts]) if len(parts[0]) > 2 else None
    loss = sum(losses) / len(data) if losses else None
    return Outputs(probs, anomaly_map, class_map, loss)


def _collect_contract_outputs(module: Any, data: DefectImageDataset) -> Outputs:
    pixels = (data.images * 255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    parts = module.run_batch(pixels)
    class_map = np.stack([p[2] for p in parts]) if len(parts[0]) > 2 else None
    return Outputs(np.stack([p[0] for p in parts]), np.stack([p[1] for p in parts]), class_map)


def _f1_at(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float | None:
    predicted = scores > threshold
    tp = int(np.sum(predicted & labels))
    denominator = 2 * tp + int(np.sum(predicted & ~labels)) + int(np.sum(~predicted & labels))
    return None if denominator == 0 else 2 * tp / denominator


def choose_threshold(scores: np.ndarray, defective: np.ndarray, default: float | None) -> tuple[float, str]:
    """The calibrated threshold, unless a natural ``default`` (0.5 for probabilities) does as well
    on validation: with a handful of validation images the default generalises better."""
    fallback = default if default is not None else float(np.max(scores))
    threshold, how = calibrate_threshold(scores, defective, fallback=fallback)
    if default is None:
        return threshold, how
    f1_default = _f1_at(scores, defective, default)
    f1_calibrated = _f1_at(scores, defective, threshold)
    if f1_calibrated is not None and (f1_default is None or f1_calibrated > f1_default + 1e-9):
        return threshold, how
    return default, f"default {default:g} (calibration did not improve validation F1)"


def _safe_auroc(defective: np.ndarray, scores: np.ndarray) -> float | None:
    value = auroc(defective, scores)
    return None if np.isnan(value) else float(value)


def calibrate_pixel_threshold(
    anomaly_map: np.ndarray, masks: np.ndarray | None, fallback: float
) -> tuple[float, str]:
    """The anomaly-map level that best outlines the labelled defects (highest pixel Dice over the
    validation images whose masks are known), or ``fallback`` without labelled defect pixels."""
    if masks is None:
        return fallback, "the image threshold (no masks to calibrate on)"
    known = ~(masks == IGNORE_INDEX).any(axis=(1, 2))
    truth = (masks[known] != 0).reshape(-1)
    if not truth.any():
        return fallback, "the image threshold (no labelled defect pixels in validation)"
    values = anomaly_map[known].reshape(-1).astype(np.float64)
    order = np.argsort(values, kind="stable")
    ascending, positives_from = values[order], np.r_[np.cumsum(truth[order][::-1])[::-1], 0]
    levels = np.unique(np.quantile(values, np.linspace(0.5, 0.9995, 100)))
    candidates = np.sort(np.r_[levels, (levels[1:] + levels[:-1]) / 2])  # midpoints fill gaps
    first_above = np.searchsorted(ascending, candidates, side="right")  # pixels > t start here
    true_pos = positives_from[first_above].astype(np.float64)
    flagged = values.size - first_above
    dice = 2 * true_pos / (flagged + truth.sum())
    best = int(np.argmax(dice))
    return float(candidates[best]), f"best pixel Dice on validation masks ({dice[best]:.3f})"


def calibrate(
    outputs: Outputs,
    labels: np.ndarray,
    config: dict[str, Any],
    rule_choice: str = "auto",
    masks: np.ndarray | None = None,
) -> dict[str, Any]:
    """Set ``threshold``, ``threshold_how``, ``verdict_rule`` and ``pixel_threshold`` in ``config``
    from validation outputs; returns the per-rule comparison for segmentation (else {}).

    Anomaly models get their own ``pixel_threshold`` from the validation ``masks`` (it only draws
    the defect region; the verdict is the image score's). Segmentation keeps ``pixel_threshold``
    equal to ``threshold``, because its verdict rule counts the pixels above it."""
    defective = labels != 0
    model_type = config["model_type"]
    default = None if model_type == "anomaly" else DEFAULT_THRESHOLD
    if model_type != "segmentation":
        scores = image_anomaly_scores(outputs.probs, outputs.anomaly_map, config)
        config["threshold"], config["threshold_how"] = choose_threshold(scores, defective, default)
        if model_type == "anomaly":
            config["pixel_threshold"], config["pixel_threshold_how"] = calibrate_pixel_threshold(
                outputs.anomaly_map, masks, config["threshold"]
            )
        return {}
    rules = VERDICT_RULES if rule_choice == "auto" else (rule_choice,)
    comparison: dict[str, Any] = {}
    for rule in rules:
        scores = image_anomaly_scores(outputs.probs, outputs.anomaly_map, config, rule=rule)
        threshold, how = choose_threshold(scores, defective, default)
        comparison[rule] = {
            "threshold": threshold,
            "threshold_how": how,
            "f1": _f1_at(scores, defective, threshold),
            "auroc": _safe_auroc(defective, scores),
        }

    def rank(rule: str) -> tuple[float, float]:
        entry = comparison[rule]
        return (entry["f1"] if entry["f1"] is not None else -1.0, entry["auroc"] or 0.0)

    best = max(rules, key=rank)  # max keeps the first of equals: the preference order
    config.update(
        verdict_rule=best,
        threshold=comparison[best]["threshold"],
        threshold_how=comparison[best]["threshold_how"],
        pixel_threshold=comparison[best]["threshold"],
    )
    return comparison


def decide(outputs: Outputs, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(anomaly score [N], predicted class id [N]) as the deployed model would decide."""
    scores = image_anomaly_scores(outputs.probs, outputs.anomaly_map, config)
    return scores, predicted_labels(outputs.probs, scores > float(config["threshold"]), config)


def compute_metrics(outputs: Outputs, data: DefectImageDataset, config: Mapping[str, Any]) -> dict[str, Any]:
    """Image metrics (always) and pixel metrics (when the model makes maps and masks exist)."""
    labels = data.labels.numpy()
    scores, predicted = decide(outputs, config)
    class_names = list(config["class_names"])
    metrics: dict[str, Any] = {
        "image": classification_metrics(labels, predicted, scores, labels=class_names),
        "threshold": float(config["threshold"]),
        "num_images": len(labels),
    }
    if outputs.loss is not None:
        metrics["loss"] = outputs.loss
    if config["model_type"] != "classification" and data.masks is not None:
        pixel = _pixel_metrics(outputs, data.masks.numpy(), config)
        if pixel is not None:
            metrics["pixel"] = pixel
    return metrics


def _pixel_metrics(outputs: Outputs, masks: np.ndarray, config: Mapping[str, Any]) -> dict[str, Any] | None:
    known = ~(masks == IGNORE_INDEX).any(axis=(1, 2))
    if not known.any() or not (masks[known] != 0).any():
        return None  # no labelled defect pixels: IoU and pixel AUROC would say nothing
    predicted = defect_masks(outputs.anomaly_map, outputs.class_map, config)
    names = list(config.get("mask_class_names") or ["background", "anomaly"])
    num_classes = max(len(names), int(masks[known].max()) + 1)
    names += [f"class_{i}" for i in range(len(names), num_classes)]
    if config["model_type"] == "anomaly":  # an anomaly map knows no classes: score defect vs background
        truth = (masks[known] != 0).astype(np.uint8)
        return segmentation_metrics(
            predicted[known], truth, 2, outputs.anomaly_map[known], ["background", "defect"]
        )
    return segmentation_metrics(
        predicted[known], masks[known], num_classes, outputs.anomaly_map[known], names
    )


def evaluate_model(
    trained: TrainedModel,
    dataset: Dataset,
    *,
    batch_size: int = 16,
    progress: bool = True,
    device: str = "auto",
) -> dict[str, Any]:
    """Metrics of a trained model on any dataset whose classes it knows (``device``: see
    :mod:`dda.ml.device`)."""
    outputs, data = model_outputs(trained, dataset, batch_size=batch_size, progress=progress, device=device)
    return compute_metrics(outputs, data, trained.config)


def image_scores(
    trained: TrainedModel, dataset: Dataset, *, batch_size: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """(defective [N] bool, anomaly score [N]) of every image, scored as the deployed model scores."""
    outputs, data = model_outputs(trained, dataset, batch_size=batch_size, progress=False)
    scores = image_anomaly_scores(outputs.probs, outputs.anomaly_map, trained.config)
    return data.labels.numpy() != 0, scores


def model_outputs(
    trained: TrainedModel,
    dataset: Dataset,
    *,
    batch_size: int = 16,
    progress: bool = True,
    device: str = "cpu",
) -> tuple[Outputs, DefectImageDataset]:
    """The torch model's contract outputs on every image of ``dataset`` and the loaded images,
    computed on ``device`` (the module is moved back where it was afterwards)."""
    from dda.ml.device import module_device, resolve_device

    config = trained.config
    remapped = _remap_labels(dataset, list(config["class_names"]))
    with_masks = config["model_type"] != "classification" and dataset.has_masks
    data = DefectImageDataset(
        remapped,
        config["input_size"],
        config["mean"],
        config["std"],
        with_masks=with_masks,
        progress=progress,
    )
    module, home = trained.module, module_device(trained.module)
    try:
        module.to(resolve_device(device))
        outputs = collect_outputs(module, config["model_type"], data, batch_size, progress=progress)
    finally:
        module.to(home)
    return outputs, data


def _remap_labels(dataset: Dataset, model_classes: list[str]) -> Dataset:
    """Express the dataset's labels as the model's class ids. A two-class (normal/defect) model
    counts every defect class as its defect class; otherwise classes are matched by name."""
    from dataclasses import replace

    if dataset.class_names == model_classes:
        return dataset
    if len(model_classes) == 2:
        samples = [replace(s, label=int(s.label != 0)) for s in dataset.samples]
    else:
        index = {name: i for i, name in enumerate(model_classes)}
        used = sorted({dataset.class_names[s.label] for s in dataset.samples if s.label != 0})
        unknown = [name for name in used if name not in index]
        if unknown:
            raise InvalidInput(
                f"the dataset has classes the model does not know: {', '.join(unknown)}",
                hint=f"the model was trained on {', '.join(model_classes)}",
            )
        samples = [
            replace(s, label=index[dataset.class_names[s.label]] if s.label else 0) for s in dataset.samples
        ]
    return Dataset(samples, list(model_classes), list(dataset.mask_class_names), dataset.name)
