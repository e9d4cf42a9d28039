"""Evaluation metrics for every model type, in plain numpy.

Conventions used throughout:

- Class id 0 is ``normal`` (image level) or ``background`` (pixel level); every other id is a
  defect. The binary "anomaly" view of a label is ``label != 0``.
- A score is "higher = more anomalous"; a sample is predicted anomalous when ``score >= threshold``.
- A metric whose denominator is zero is undefined and reported as ``None`` (JSON ``null``), never
  as a made-up 0 or 1; :func:`auroc` returns ``nan`` when only one class is present (the dict
  builders turn that into ``None``). Precision of a class that does have samples but was never
  predicted is 0.0 (the model missed it entirely), as in scikit-learn.
- Empty input, mismatched lengths and NaN scores raise :class:`~dda.core.errors.InvalidInput`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dda.core.errors import InvalidInput

FloatArray = NDArray[np.float64]

# Above this many scores, AUROC switches from an exact sort to a 65,536-bin histogram (error < 1e-4)
# so that pixel AUROC over a whole validation set stays within a few hundred MB of memory.
EXACT_AUROC_MAX = 4_000_000
AUROC_BINS = 65_536


# --------------------------------------------------------------------------------------- helpers


def _as_binary(y_true: ArrayLike) -> NDArray[np.bool_]:
    y = np.asarray(y_true).reshape(-1)
    binary: NDArray[np.bool_] = y if y.dtype == np.bool_ else np.not_equal(y, 0)
    return binary


def _as_scores(scores: ArrayLike, n: int | None = None) -> NDArray[Any]:
    s = np.asarray(scores).reshape(-1)
    if s.size == 0:
        raise InvalidInput("no scores given", hint="evaluate on at least one image")
    if n is not None and s.size != n:
        raise InvalidInput(
            f"got {s.size} scores for {n} labels", hint="pass one score per label, in the same order"
        )
    if not np.issubdtype(s.dtype, np.number) and s.dtype != np.bool_:
        raise InvalidInput(f"scores must be numbers, got dtype {s.dtype}", hint="pass a float array")
    if np.issubdtype(s.dtype, np.floating) and np.isnan(s).any():
        raise InvalidInput("scores contain NaN", hint="check the model output for numerical problems")
    return s


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else float(num) / float(den)


def _f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None:
        return None
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _binary_counts_by_threshold(
    y_true: ArrayLike, scores: ArrayLike
) -> tuple[FloatArray, FloatArray, NDArray[Any], int, int]:
    """Cumulative true/false positives for ``score >= t`` at each distinct score t, highest first."""
    y = _as_binary(y_true)
    s = _as_scores(scores, y.size)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    # The last index of each run of equal scores: a threshold admits the whole run at once.
    last_of_run = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True])
    tps = np.cumsum(y_sorted)[last_of_run].astype(np.float64)
    fps = (last_of_run + 1).astype(np.float64) - tps
    positives = int(y.sum())
    return tps, fps, s_sorted[last_of_run], positives, y.size - positives


# ------------------------------------------------------------------------------------ curves


def roc_curve(y_true: ArrayLike, scores: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ROC curve ``(fpr, tpr, thresholds)``; thresholds descend and start at +inf (nothing flagged).

    With no positives ``tpr`` is all NaN; with no negatives ``fpr`` is all NaN.
    """
    tps, fps, thresholds, positives, negatives = _binary_counts_by_threshold(y_true, scores)
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    tpr = tps / positives if positives else np.full_like(tps, np.nan)
    fpr = fps / negatives if negatives else np.full_like(fps, np.nan)
    return fpr, tpr, np.r_[np.inf, thresholds.astype(np.float64)]


def pr_curve(y_true: ArrayLike, scores: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Precision-recall curve ``(precision, recall, thresholds)`` for ``score >= t``, t descending.

    With no positives ``recall`` is all NaN and precision is 0.
    """
    tps, fps, thresholds, positives, _ = _binary_counts_by_threshold(y_true, scores)
    precision = tps / (tps + fps)  # never 0/0: every threshold admits at least one sample
    recall = tps / positives if positives else np.full_like(tps, np.nan)
    return precision, recall, thresholds.astype(np.float64)


def average_precision(y_true: ArrayLike, scores: ArrayLike) -> float:
    """Area under the PR curve as a step sum (scikit-learn's definition); NaN with no positives."""
    precision, recall, _ = pr_curve(y_true, scores)
    if np.isnan(recall).all():
        return math.nan
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def auroc(y_true: ArrayLike, scores: ArrayLike, *, bins: int | None = None) -> float:
    """Area under the ROC curve; ties count one half. NaN when only one class is present.

    Exact (Mann-Whitney U with tie-averaged ranks) unless ``bins`` is given or there are more than
    :data:`EXACT_AUROC_MAX` scores, in which case scores are histogrammed into equal-width bins.
    """
    y = _as_binary(y_true)
    s = _as_scores(scores, y.size).astype(np.float64, copy=False)
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return math.nan
    if bins is None and y.size > EXACT_AUROC_MAX:
        bins = AUROC_BINS
    if bins is not None:
        return _binned_auroc(y, s, bins, positives, negatives)
    order = np.argsort(s, kind="mergesort")
    s_sorted = s[order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    counts = np.diff(np.r_[starts, s.size])
    mean_ranks = starts + (counts + 1) / 2.0  # 1-based average rank of each run of ties
    ranks = np.repeat(mean_ranks, counts)
    rank_sum = float(ranks[y[order]].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def _binned_auroc(y: NDArray[np.bool_], s: FloatArray, bins: int, positives: int, negatives: int) -> float:
    low, high = float(s.min()), float(s.max())
    if high == low:
        return 0.5
    index = np.minimum(((s - low) / (high - low) * bins).astype(np.int64), bins - 1)
    pos_hist = np.bincount(index[y], minlength=bins).astype(np.float64)
    neg_hist = np.bincount(index[~y], minlength=bins).astype(np.float64)
    neg_below = np.cumsum(neg_hist) - neg_hist
    wins = float(np.sum(pos_hist * (neg_below + 0.5 * neg_hist)))
    return wins / (positives * negatives)


# ---------------------------------------------------------------------------- classification


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int) -> NDArray[np.int64]:
    """``[num_classes, num_classes]`` counts; rows are true classes, columns predicted classes."""
    t = np.asarray(y_true).reshape(-1).astype(np.int64)
    p = np.asarray(y_pred).reshape(-1).astype(np.int64)
    if t.size != p.size:
        raise InvalidInput(
            f"got {t.size} true labels and {p.size} predictions", hint="pass one prediction per label"
        )
    for name, values in (("true labels", t), ("predictions", p)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise InvalidInput(
                f"{name} contain class ids outside 0..{num_classes - 1}",
                hint="pass the full list of class names as `labels` (index = class id)",
            )
    counts = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def _precision_recall_f1(tp: int, fp: int, fn: int) -> dict[str, float | None]:
    support = tp + fn
    precision = _ratio(tp, tp + fp)
    if precision is None and support > 0:
        precision = 0.0  # the class exists but was never predicted
    recall = _ratio(tp, support)
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall)}


def _mean_defined(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def classification_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    scores: ArrayLike | None = None,
    labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Image-level metrics as a JSON-ready dict.

    ``y_true``/``y_pred`` are class ids (0 = normal). ``scores`` is either one anomaly score per
    image ([N], higher = more anomalous) or class probabilities ([N, C]; the anomaly score is then
    ``1 - p(normal)`` and each class also gets a one-vs-rest AUROC). ``labels`` names the class
    ids (defaults to ``normal, class_1, ...``).

    Top-level ``precision``/``recall``/``f1``/``auroc`` are for the binary anomaly-vs-normal view
    (positive = any defect class); ``per_class`` and ``macro`` (mean over classes present in
    ``y_true``) cover the multi-class view. ``confusion_matrix`` rows are true classes.
    """
    t = np.asarray(y_true).reshape(-1).astype(np.int64)
    p = np.asarray(y_pred).reshape(-1).astype(np.int64)
    if t.size == 0:
        raise InvalidInput("no samples to evaluate", hint="evaluate on at least one image")
    if labels is None:
        highest = int(max(t.max(), p.max(), 1))
        labels = ["normal", *(f"class_{i}" for i in range(1, highest + 1))]
    names = list(labels)
    matrix = confusion_matrix(t, p, len(names))

    per_class: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(names):
        tp = int(matrix[index, index])
        fp = int(matrix[:, index].sum()) - tp
        fn = int(matrix[index, :].sum()) - tp
        per_class[name] = {**_precision_recall_f1(tp, fp, fn), "support": tp + fn}
    present = [m for m in per_class.values() if m["support"] > 0]

    anomalous_true, anomalous_pred = t != 0, p != 0
    tp = int(np.sum(anomalous_true & anomalous_pred))
    fp = int(np.sum(~anomalous_true & anomalous_pred))
    fn = int(np.sum(anomalous_true & ~anomalous_pred))
    tn = t.size - tp - fp - fn
    result: dict[str, Any] = {
        "num_samples": int(t.size),
        "labels": names,
        "accuracy": float(np.mean(t == p)),
        **_precision_recall_f1(tp, fp, fn),
        "binary": {"tp": tp, "fp": fp, "tn": tn, "fn": fn, "accuracy": (tp + tn) / t.size},
        "auroc": None,
        "per_class": per_class,
        "macro": {k: _mean_defined([m[k] for m in present]) for k in ("precision", "recall", "f1")},
        "confusion_matrix": matrix.tolist(),
    }
    if scores is not None:
        _add_score_metrics(result, t, np.asarray(scores, dtype=np.float64), names)
    return result


def _add_score_metrics(result: dict[str, Any], t: NDArray[np.int64], s: FloatArray, names: list[str]) -> None:
    if s.ndim == 2:
        if s.shape != (t.size, len(names)):
            raise InvalidInput(
                f"class scores have shape {s.shape}, expected ({t.size}, {len(names)})",
                hint="pass one probability per class and image, columns in label order",
            )
        result["auroc"] = _nan_to_none(auroc(t != 0, 1.0 - s[:, 0]))
        for index, name in enumerate(names):
            result["per_class"][name]["auroc"] = _nan_to_none(auroc(t == index, s[:, index]))
    else:
        result["auroc"] = _nan_to_none(auroc(t != 0, _as_scores(s, t.size)))


# ------------------------------------------------------------------------------ segmentation


def _mask_pairs(pred_masks: Any, true_masks: Any) -> list[tuple[NDArray[Any], NDArray[Any]]]:
    preds = [np.asarray(m) for m in pred_masks]
    trues = [np.asarray(m) for m in true_masks]
    if not preds:
        raise InvalidInput("no masks to evaluate", hint="evaluate on at least one image with a mask")
    if len(preds) != len(trues):
        raise InvalidInput(
            f"got {len(preds)} predicted masks and {len(trues)} true masks", hint="pass them in pairs"
        )
    for index, (pm, tm) in enumerate(zip(preds, trues, strict=True)):
        if pm.shape != tm.shape:
            raise InvalidInput(
                f"mask {index}: prediction {pm.shape} and truth {tm.shape} differ in size",
                hint="resize the predicted mask to the true mask's size (nearest neighbour)",
            )
    return list(zip(preds, trues, strict=True))


def segmentation_metrics(
    pred_masks: Any,
    true_masks: Any,
    num_classes: int,
    pixel_scores: Any = None,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Pixel-level metrics: per-class and mean IoU and Dice, pixel accuracy, optional pixel AUROC.

    Masks are class-id arrays (0 = background), given as one [N, H, W] array or a sequence of
    [H, W] arrays (sizes may differ between images). A class absent from both prediction and truth
    has IoU/Dice ``None`` and is left out of the means. ``mean_iou``/``mean_dice`` average over all
    defined classes, ``mean_defect_iou``/``mean_defect_dice`` over defect classes only.
    ``pixel_scores`` (same shapes, higher = more anomalous) give ``pixel_auroc`` for defect vs
    background pixels; large sets use the histogram AUROC (see :func:`auroc`).
    """
    pairs = _mask_pairs(pred_masks, true_masks)
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    for pred, true in pairs:
        matrix += confusion_matrix(true, pred, num_classes)
    names = (
        list(class_names) if class_names else ["background", *(f"class_{i}" for i in range(1, num_classes))]
    )
    per_class: dict[str, dict[str, Any]] = {}
    for index in range(num_classes):
        tp = int(matrix[index, index])
        fp = int(matrix[:, index].sum()) - tp
        fn = int(matrix[index, :].sum()) - tp
        per_class[names[index]] = {
            "iou": _ratio(tp, tp + fp + fn),
            "dice": _ratio(2 * tp, 2 * tp + fp + fn),
            "support_pixels": tp + fn,
        }
    ious = [m["iou"] for m in per_class.values()]
    dices = [m["dice"] for m in per_class.values()]
    result: dict[str, Any] = {
        "num_images": len(pairs),
        "pixel_accuracy": float(np.trace(matrix) / max(int(matrix.sum()), 1)),
        "per_class": per_class,
        "mean_iou": _mean_defined(ious),
        "mean_dice": _mean_defined(dices),
        "mean_defect_iou": _mean_defined(ious[1:]),
        "mean_defect_dice": _mean_defined(dices[1:]),
        "pixel_auroc": None,
    }
    if pixel_scores is not None:
        score_list = [np.asarray(s, dtype=np.float32) for s in pixel_scores]
        if len(score_list) != len(pairs) or any(
            s.shape != true.shape for s, (_, true) in zip(score_list, pairs, strict=False)
        ):
            raise InvalidInput(
                "pixel scores must have one map per mask, each the size of its mask",
                hint="resize each anomaly map to its mask's size before evaluating",
            )
        flat_scores = np.concatenate([s.reshape(-1) for s in score_list])
        flat_truth = np.concatenate([true.reshape(-1) != 0 for _, true in pairs])
        result["pixel_auroc"] = _nan_to_none(auroc(flat_truth, flat_scores))
    return result


# -------------------------------------------------------------------------------- thresholds


def calibrate_threshold(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    quantile: float = 0.99,
    margin: float = 1.1,
    fallback: float | None = None,
) -> tuple[float, str]:
    """Choose the decision threshold (anomalous when ``score >= threshold``) from validation data.

    - Normal and defect images present: the threshold with the best F1 (the highest such one on
      ties), placed midway to the next lower score so that it is not on top of a sample.
    - Only normal images: ``quantile`` of their scores (the 99th percentile) plus ``margin - 1``
      of its magnitude, i.e. ``q99 * 1.1`` for non-negative scores.
    - Only defect images: nothing tells normal from defect, so ``fallback`` is returned when given
      and :class:`InvalidInput` is raised otherwise.

    Returns ``(threshold, rule)`` where ``rule`` says in words which rule was used.
    """
    y = _as_binary(labels)
    s = _as_scores(scores, y.size).astype(np.float64)
    defects, normals = int(y.sum()), int((~y).sum())
    if defects and normals:
        tps, fps, thresholds, _, _ = _binary_counts_by_threshold(y, s)
        f1 = 2 * tps / (tps + fps + defects)  # F1 = 2TP / (2TP + FP + FN), FN = defects - TP
        best = int(np.argmax(f1))  # first maximum = highest threshold
        below = thresholds[best + 1] if best + 1 < thresholds.size else thresholds[best]
        threshold = float((thresholds[best] + below) / 2.0)
        return threshold, (
            f"best F1 on validation (F1={f1[best]:.3f} with {defects} defect and {normals} normal images)"
        )
    if normals:
        q = float(np.quantile(s, quantile))
        threshold = q + (margin - 1.0) * abs(q)
        return threshold, (
            f"{quantile * 100:g}th percentile of {normals} normal validation scores x {margin:g} "
            "(no defect images in validation)"
        )
    if fallback is not None:
        return float(fallback), f"default threshold {fallback:g} (validation has only defect images)"
    raise InvalidInput(
        "cannot calibrate a threshold: validation has only defect images",
        hint="add normal images to the validation set, or pass fallback=<threshold>",
    )
