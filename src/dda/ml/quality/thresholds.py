"""Decision thresholds from a false-reject budget, with the expected miss rate and its uncertainty.

A plant states how many good parts it may reject (say 1 %). The threshold is set from scores of
*normal* images the model did not learn from (out-of-fold scores of k-fold cross-validation, or
held-out validation images), so that at most that share of them would be rejected. Small sets
cannot resolve a 1 % tail empirically (30 normal images say nothing beyond "none of 30"), so the
threshold is the larger of the empirical quantile and a one-sided tolerance bound of a normal
distribution fitted to the (log- or logit-transformed) normal scores: with 90 % confidence at most
the budget of good parts lies above it. The fitted tail extrapolates past the largest normal score
instead of assuming it is the worst a good part can look, and the tolerance factor widens it when
few normal images pin the spread down (a plain fitted quantile overshot a 1 % budget to 3.6 % in
a test with 40 normal scores).

The report states what the threshold should achieve, and how sure we can be: the share of
held-out normal images above it (false reject) and of held-out defect images at or below it
(miss), each with a 95 % Wilson interval. An image is rejected when ``score > threshold``.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from dda.core.errors import InvalidInput

ThresholdRule = Literal["budget", "f1"]
THRESHOLD_RULES: tuple[str, ...] = ("budget", "f1")
DEFAULT_MAX_FALSE_REJECT = 0.01
Z95 = 1.959963984540054
TOLERANCE_CONFIDENCE = 0.9


def wilson_interval(hits: int, total: int, z: float = Z95) -> tuple[float, float] | None:
    """95 % Wilson score interval of a binomial proportion; None without trials."""
    if total <= 0:
        return None
    p = hits / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _transform(scores: np.ndarray, kind: str) -> np.ndarray:
    if kind == "logit":
        clipped = np.clip(scores, 1e-6, 1 - 1e-6)
        return np.asarray(np.log(clipped / (1 - clipped)))
    return np.asarray(np.log(np.maximum(scores, 1e-9)))


def _inverse(value: float, kind: str) -> float:
    if kind == "logit":
        return 1.0 / (1.0 + math.exp(-value))
    return math.exp(value)


def score_kind(scores: np.ndarray) -> str:
    """'logit' for probabilities (all in [0, 1]), 'log' for positive anomaly scores."""
    return "logit" if float(np.min(scores)) >= 0.0 and float(np.max(scores)) <= 1.0 else "log"


def tolerance_factor(count: int, coverage: float, confidence: float = TOLERANCE_CONFIDENCE) -> float:
    """One-sided normal tolerance factor k (Natrella's approximation): mean + k * sd lies above
    ``coverage`` of the population with probability ``confidence``, from ``count`` samples."""
    z_p = NormalDist().inv_cdf(coverage)
    z_g = NormalDist().inv_cdf(confidence)
    a = 1.0 - z_g * z_g / (2.0 * (count - 1))
    b = z_p * z_p - z_g * z_g / count
    if a <= 0 or z_p * z_p - a * b < 0:
        return z_p + 3.0  # too few samples for the approximation: a wide, safe margin
    return (z_p + math.sqrt(z_p * z_p - a * b)) / a


def tail_quantile(normal_scores: np.ndarray, max_false_reject: float) -> tuple[float, float]:
    """(empirical ``1 - max_false_reject`` quantile, fitted tolerance bound) of the normal scores."""
    kind = score_kind(normal_scores)
    empirical = float(np.quantile(normal_scores, 1.0 - max_false_reject, method="higher"))
    values = _transform(normal_scores, kind)
    if values.size < 3:
        return empirical, empirical
    spread = float(np.std(values, ddof=1))
    k = tolerance_factor(int(values.size), 1.0 - max_false_reject)
    fitted = _inverse(float(np.mean(values)) + k * spread, kind)
    return empirical, fitted


def _rates(normal: np.ndarray, defect: np.ndarray, threshold: float) -> dict[str, Any]:
    rejected = int(np.sum(normal > threshold))
    missed = int(np.sum(defect <= threshold))
    return {
        "false_reject": rejected / normal.size if normal.size else None,
        "false_reject_count": rejected,
        "false_reject_interval_95": wilson_interval(rejected, int(normal.size)),
        "miss_rate": missed / defect.size if defect.size else None,
        "miss_count": missed,
        "miss_rate_interval_95": wilson_interval(missed, int(defect.size)),
    }


def best_f1_threshold(normal: np.ndarray, defect: np.ndarray) -> float:
    """The midpoint threshold with the highest F1 (defect = positive), ties to the higher one."""
    values = np.unique(np.r_[normal, defect])
    candidates = np.r_[(values[1:] + values[:-1]) / 2, values[-1]] if values.size > 1 else values
    best, best_f1 = float(candidates[-1]), -1.0
    for threshold in candidates:
        tp = int(np.sum(defect > threshold))
        fp = int(np.sum(normal > threshold))
        fn = defect.size - tp
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        if f1 >= best_f1:
            best, best_f1 = float(threshold), f1
    return best


def calibrate_from_scores(
    normal_scores: np.ndarray,
    defect_scores: np.ndarray,
    *,
    rule: str = "budget",
    max_false_reject: float = DEFAULT_MAX_FALSE_REJECT,
    source: str = "out-of-fold",
) -> dict[str, Any]:
    """The threshold and its report from scores of images the model did not learn from."""
    normal = np.asarray(normal_scores, dtype=np.float64).reshape(-1)
    defect = np.asarray(defect_scores, dtype=np.float64).reshape(-1)
    if rule not in THRESHOLD_RULES:
        raise InvalidInput(f"unknown threshold rule {rule!r}", hint=f"choose one of {THRESHOLD_RULES}")
    if not 0.0 < max_false_reject < 0.5:
        raise InvalidInput(
            f"max false-reject rate {max_false_reject} is outside (0, 0.5)", hint="e.g. 0.01 for 1 %"
        )
    if normal.size < 2:
        raise InvalidInput(
            f"calibrating a threshold needs at least 2 held-out normal images, got {normal.size}",
            hint="label more images normal",
        )
    report: dict[str, Any] = {
        "rule": rule,
        "scores_from": source,
        "normal_images": int(normal.size),
        "defect_images": int(defect.size),
    }
    if rule == "f1" and defect.size:
        threshold = best_f1_threshold(normal, defect)
        report["how"] = f"best F1 on {source} scores"
    else:
        empirical, fitted = tail_quantile(normal, max_false_reject)
        threshold = max(empirical, fitted)
        report.update(
            max_false_reject=max_false_reject,
            empirical_quantile=empirical,
            fitted_quantile=fitted,
            tolerance_confidence=TOLERANCE_CONFIDENCE,
            how=(
                f"rejects at most {max_false_reject:.1%} of good parts: the larger of the empirical "
                f"{1 - max_false_reject:.1%} quantile and a {TOLERANCE_CONFIDENCE:.0%}-confidence bound "
                f"fitted to {normal.size} {source} normal scores"
            ),
        )
        if rule == "f1":
            report["how"] += " (best F1 needs defect images; none were held out)"
    report["threshold"] = float(threshold)
    report.update(_rates(normal, defect, threshold))
    report["false_reject_at_95_catch"] = false_reject_at_catch(normal, defect, 0.95)
    return report


def false_reject_at_catch(normal: np.ndarray, defect: np.ndarray, catch: float) -> float | None:
    """Share of normal images rejected by the highest threshold that still catches ``catch`` of defects."""
    if not defect.size or not normal.size:
        return None
    threshold = float(np.quantile(defect, 1.0 - catch, method="lower"))
    # every defect scoring >= threshold is caught: use a threshold just below it
    return float(np.mean(normal >= threshold))


def describe(report: dict[str, Any]) -> list[tuple[str, str]]:
    """Readable rows of a threshold report for the CLI."""

    def pct(value: Any) -> str:
        return "-" if value is None else f"{100 * float(value):.1f} %"

    def interval(value: Any) -> str:
        return "-" if not value else f"{100 * value[0]:.1f}-{100 * value[1]:.1f} %"

    rows = [
        ("threshold", f"{report['threshold']:.4g}"),
        ("rule", str(report.get("how", report.get("rule")))),
        ("scores from", f"{report['normal_images']} normal + {report['defect_images']} defect images "
         f"({report.get('scores_from')})"),
        ("false reject (good parts rejected)",
         f"{pct(report.get('false_reject'))} (95 % CI {interval(report.get('false_reject_interval_95'))})"),
        ("expected miss rate (defects passed)",
         f"{pct(report.get('miss_rate'))} (95 % CI {interval(report.get('miss_rate_interval_95'))})"),
        ("false reject at 95 % defect catch", pct(report.get("false_reject_at_95_catch"))),
    ]  # fmt: skip
    return rows
