"""Metrics against values worked out by hand (see the comments next to each expectation)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dda.core.errors import InvalidInput
from dda.ml.metrics import (
    auroc,
    average_precision,
    calibrate_threshold,
    classification_metrics,
    confusion_matrix,
    pr_curve,
    roc_curve,
    segmentation_metrics,
)


def test_auroc_counts_pairs_and_half_ties() -> None:
    # Positives {0.8, 0.4}, negatives {0.5, 0.1}: pairs (0.8>0.5),(0.8>0.1),(0.4<0.5),(0.4>0.1) -> 3/4.
    assert auroc([1, 0, 1, 0], [0.8, 0.5, 0.4, 0.1]) == pytest.approx(0.75)
    # One positive tied with one of two negatives: 1 win + 0.5 tie out of 2 pairs.
    assert auroc([1, 0, 0], [0.5, 0.5, 0.2]) == pytest.approx(0.75)
    assert auroc([1, 1, 0, 0], [1, 1, 1, 1]) == pytest.approx(0.5)
    assert auroc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert auroc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0


def test_auroc_single_class_is_nan_and_bad_input_is_refused() -> None:
    assert math.isnan(auroc([0, 0, 0], [0.1, 0.2, 0.3]))
    assert math.isnan(auroc([1, 1], [0.1, 0.2]))
    with pytest.raises(InvalidInput, match="no scores"):
        auroc([], [])
    with pytest.raises(InvalidInput, match="NaN"):
        auroc([0, 1], [0.1, float("nan")])
    with pytest.raises(InvalidInput, match="2 scores for 3 labels"):
        auroc([0, 1, 1], [0.1, 0.2])


def test_binned_auroc_matches_exact_on_large_arrays() -> None:
    rng = np.random.default_rng(0)
    labels = rng.random(200_000) < 0.1
    scores = rng.normal(size=labels.size) + labels * 1.0
    exact = auroc(labels, scores)
    assert auroc(labels, scores, bins=65_536) == pytest.approx(exact, abs=1e-4)
    # Discrete scores with ties: the histogram counts ties as halves, like the exact version.
    discrete = np.round(scores).astype(np.float32)
    assert auroc(labels, discrete, bins=4096) == pytest.approx(auroc(labels, discrete), abs=1e-3)


def test_roc_curve_steps_through_distinct_scores() -> None:
    fpr, tpr, thresholds = roc_curve([1, 0, 1, 0], [0.8, 0.5, 0.4, 0.1])
    assert thresholds.tolist() == [math.inf, 0.8, 0.5, 0.4, 0.1]
    assert tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    # Tied scores form one step, and the trapezoid area equals auroc().
    fpr, tpr, thresholds = roc_curve([1, 0, 0], [0.5, 0.5, 0.2])
    assert thresholds.tolist() == [math.inf, 0.5, 0.2]
    assert np.trapezoid(tpr, fpr) == pytest.approx(0.75)


def test_roc_curve_with_one_class_has_nan_axis() -> None:
    fpr, tpr, _ = roc_curve([0, 0], [0.3, 0.1])
    assert np.isnan(tpr).all()
    assert fpr.tolist() == [0.0, 0.5, 1.0]


def test_pr_curve_and_average_precision() -> None:
    precision, recall, thresholds = pr_curve([1, 0, 1, 0], [0.8, 0.5, 0.4, 0.1])
    assert thresholds.tolist() == [0.8, 0.5, 0.4, 0.1]
    assert precision.tolist() == pytest.approx([1.0, 0.5, 2 / 3, 0.5])
    assert recall.tolist() == [0.5, 0.5, 1.0, 1.0]
    # AP = sum over recall steps of precision: 0.5 * 1 + 0.5 * 2/3.
    assert average_precision([1, 0, 1, 0], [0.8, 0.5, 0.4, 0.1]) == pytest.approx(0.5 + 1 / 3)
    assert math.isnan(average_precision([0, 0], [0.1, 0.2]))


def test_binary_classification_metrics_by_hand() -> None:
    # true:  N N N A A A A ; pred: N A N A A N A  -> TP=3, FP=1, FN=1, TN=2.
    y_true = [0, 0, 0, 1, 1, 1, 1]
    y_pred = [0, 1, 0, 1, 1, 0, 1]
    scores = [0.1, 0.7, 0.2, 0.9, 0.8, 0.3, 0.6]
    m = classification_metrics(y_true, y_pred, scores, labels=["normal", "anomaly"])
    assert m["accuracy"] == pytest.approx(5 / 7)
    assert m["precision"] == pytest.approx(0.75)
    assert m["recall"] == pytest.approx(0.75)
    assert m["f1"] == pytest.approx(0.75)
    assert m["binary"] == {"tp": 3, "fp": 1, "tn": 2, "fn": 1, "accuracy": pytest.approx(5 / 7)}
    assert m["confusion_matrix"] == [[2, 1], [1, 3]]
    # Normal class: precision 2/3 (2 of 3 predicted normal), recall 2/3.
    assert m["per_class"]["normal"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["normal"]["support"] == 3
    assert m["macro"]["f1"] == pytest.approx((2 / 3 + 0.75) / 2)
    # Positive scores {.9,.8,.3,.6} vs negative {.1,.7,.2}: losses are .3<.7, .6<.7 -> 10/12.
    assert m["auroc"] == pytest.approx(10 / 12)
    json.dumps(m)


def test_multiclass_metrics_and_probability_scores() -> None:
    labels = ["normal", "crack", "stain"]
    y_true = [0, 1, 2, 2, 1, 0]
    y_pred = [0, 1, 1, 2, 1, 2]
    probs = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.1, 0.8, 0.1],
            [0.2, 0.5, 0.3],
            [0.1, 0.1, 0.8],
            [0.3, 0.6, 0.1],
            [0.4, 0.1, 0.5],
        ]
    )
    m = classification_metrics(y_true, y_pred, probs, labels=labels)
    assert m["confusion_matrix"] == [[1, 0, 1], [0, 2, 0], [0, 1, 1]]
    assert m["per_class"]["crack"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["crack"]["recall"] == 1.0
    assert m["per_class"]["stain"]["f1"] == pytest.approx(0.5)
    # Binary view: true anomalies = idx 1..4, predicted anomalies = idx 1..5 -> TP 4, FP 1.
    assert m["precision"] == pytest.approx(0.8)
    assert m["recall"] == 1.0
    # 1 - p(normal): anomalies {.9,.8,.9,.7} vs normals {.2,.6}: all above -> 1.0.
    assert m["auroc"] == 1.0
    assert m["per_class"]["normal"]["auroc"] == 1.0
    json.dumps(m)


def test_classification_degenerate_cases() -> None:
    # Only normal images, all predicted normal: recall/precision of "anomaly" are undefined.
    m = classification_metrics([0, 0], [0, 0], [0.1, 0.2], labels=["normal", "anomaly"])
    assert m["accuracy"] == 1.0
    assert m["precision"] is None and m["recall"] is None and m["f1"] is None
    assert m["auroc"] is None
    assert m["per_class"]["anomaly"]["support"] == 0
    # A class that exists but is never predicted: precision 0, recall 0, F1 0.
    m = classification_metrics([1, 1], [0, 0], labels=["normal", "anomaly"])
    assert m["precision"] == 0.0 and m["recall"] == 0.0 and m["f1"] == 0.0
    with pytest.raises(InvalidInput, match="no samples"):
        classification_metrics([], [])
    with pytest.raises(InvalidInput, match=r"outside 0\.\.1"):
        classification_metrics([0, 2], [0, 1], labels=["normal", "anomaly"])
    with pytest.raises(InvalidInput, match="3 true labels and 2 predictions"):
        confusion_matrix([0, 1, 1], [0, 1], 2)


def test_segmentation_metrics_by_hand() -> None:
    true = np.array([[[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [2, 2, 0, 0]]])
    pred = np.array([[[0, 0, 1, 1], [0, 1, 1, 0], [0, 0, 0, 0], [2, 0, 0, 0]]])
    m = segmentation_metrics(pred, true, num_classes=3, class_names=["background", "crack", "stain"])
    # crack: TP 3 (0,2)(0,3)(1,2); FP 1 (1,1); FN 1 (1,3) -> IoU 3/5, Dice 6/8.
    assert m["per_class"]["crack"]["iou"] == pytest.approx(3 / 5)
    assert m["per_class"]["crack"]["dice"] == pytest.approx(6 / 8)
    # stain: TP 1, FN 1 -> IoU 1/2, Dice 2/3.
    assert m["per_class"]["stain"]["iou"] == pytest.approx(0.5)
    assert m["per_class"]["stain"]["dice"] == pytest.approx(2 / 3)
    # background: TP 9, FP 2 (1,3),(3,1), FN 1 (1,1) -> IoU 9/12.
    assert m["per_class"]["background"]["iou"] == pytest.approx(0.75)
    assert m["mean_iou"] == pytest.approx((0.75 + 0.6 + 0.5) / 3)
    assert m["mean_defect_iou"] == pytest.approx(0.55)
    assert m["pixel_accuracy"] == pytest.approx(13 / 16)
    json.dumps(m)


def test_segmentation_pixel_auroc_absent_class_and_mixed_sizes() -> None:
    true = [np.array([[0, 1], [0, 0]]), np.zeros((3, 3), dtype=np.int64)]
    pred = [np.array([[0, 1], [0, 0]]), np.zeros((3, 3), dtype=np.int64)]
    scores = [np.array([[0.1, 0.9], [0.2, 0.3]]), np.full((3, 3), 0.2)]
    m = segmentation_metrics(pred, true, num_classes=3, pixel_scores=scores)
    assert m["pixel_auroc"] == 1.0
    assert m["per_class"]["class_2"]["iou"] is None  # absent from both: undefined, not averaged
    assert m["mean_defect_iou"] == 1.0
    with pytest.raises(InvalidInput, match="differ in size"):
        segmentation_metrics([np.zeros((2, 2))], [np.zeros((2, 3))], num_classes=2)
    with pytest.raises(InvalidInput, match="no masks"):
        segmentation_metrics([], [], num_classes=2)


def test_calibrate_threshold_best_f1() -> None:
    # Perfectly separable: best F1 is reached at 0.8; the threshold sits midway to 0.3.
    threshold, rule = calibrate_threshold([0.1, 0.2, 0.3, 0.8, 0.9], [0, 0, 0, 1, 1])
    assert threshold == pytest.approx(0.55)
    assert rule.startswith("best F1") and "F1=1.000" in rule
    # Overlap: scores .1 .4(A) .5 .6(A) .9(A); t=.6 -> F1 2*2/(2+0+3)=.8; t=.4 -> 2*3/(3+1+3)=.857.
    threshold, rule = calibrate_threshold([0.1, 0.4, 0.5, 0.6, 0.9], [0, 1, 0, 1, 1])
    assert threshold == pytest.approx(0.25)
    assert "F1=0.857" in rule


def test_calibrate_threshold_normals_only_and_degenerate() -> None:
    scores = np.linspace(0.0, 1.0, 101)  # 99th percentile = 0.99
    threshold, rule = calibrate_threshold(scores, np.zeros(101))
    assert threshold == pytest.approx(0.99 * 1.1)
    assert "percentile" in rule and "no defect" in rule
    threshold, rule = calibrate_threshold([0.5, 0.7], [1, 1], fallback=1.0)
    assert threshold == 1.0 and "only defect" in rule
    with pytest.raises(InvalidInput, match="only defect images"):
        calibrate_threshold([0.5, 0.7], [1, 1])
    with pytest.raises(InvalidInput, match="no scores"):
        calibrate_threshold([], [])
