"""The parity gate: an exported (or quantised) model must agree with its PyTorch original.

On a golden image set both run side by side; the gate compares raw outputs (max abs diff of
scores and maps, normalised by the output's scale so PaDiM distances and probabilities share one
tolerance), verdicts (agreement %, through the runtime's own post-processing) and, when labels
are known, image AUROC. Tolerances depend on precision: FP32 must match to float rounding, INT8
may drift within looser bounds. The report is written whether the gate passes or not.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from dda.core.errors import InvalidInput
from dda.ml.export.images import ImageSet
from dda.runtime.postprocess import Decision, PostProcessConfig, decide
from dda.runtime.types import OUTPUT_ANOMALY_MAP, OUTPUT_CLASS_MAP, OUTPUT_SCORES

Runner = Callable[[np.ndarray], Mapping[str, np.ndarray]]
REPORT_FILE = "parity_report.json"


@dataclass(frozen=True)
class ParityThresholds:
    """Gate limits. Diffs are |exported - reference| / max(1, max |reference|) over the golden set.

    The decision-level checks (verdict agreement, AUROC delta) say whether the exported model
    still inspects like the original; the numeric ones catch a broken export before it shows.
    """

    max_score_diff: float
    mean_score_diff: float
    max_map_diff: float
    mean_map_diff: float
    min_verdict_agreement: float  # fraction of golden images with the same verdict
    max_auroc_delta: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


FP32_THRESHOLDS = ParityThresholds(
    max_score_diff=1e-3,
    mean_score_diff=1e-4,
    max_map_diff=1e-2,
    mean_map_diff=1e-3,
    min_verdict_agreement=1.0,
    max_auroc_delta=0.005,
)
# INT8 drifts a few percent per image (more on a borderline image); what must hold is the verdicts.
INT8_THRESHOLDS = ParityThresholds(
    max_score_diff=0.15,
    mean_score_diff=0.05,
    max_map_diff=0.5,
    mean_map_diff=0.05,
    min_verdict_agreement=0.95,
    max_auroc_delta=0.02,
)


def thresholds_for(precision: str, **overrides: float) -> ParityThresholds:
    base = INT8_THRESHOLDS if precision == "int8" else FP32_THRESHOLDS
    return replace(base, **overrides) if overrides else base


@dataclass
class ParityReport:
    """What the gate measured and concluded; ``to_dict`` is the JSON written next to the export."""

    target: str
    precision: str
    golden_source: str
    images: int
    thresholds: ParityThresholds
    metrics: dict[str, float | None]
    failures: list[str]
    per_image: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "target": self.target,
            "precision": self.precision,
            "golden_source": self.golden_source,
            "images": self.images,
            "thresholds": self.thresholds.as_dict(),
            "metrics": self.metrics,
            "failures": self.failures,
            "notes": self.notes,
            "per_image": self.per_image,
        }

    def summary(self) -> dict[str, Any]:
        """The part that goes into export.json and the package manifest."""
        return {k: v for k, v in self.to_dict().items() if k != "per_image"}

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path


def _auroc(labels: list[int], scores: list[float]) -> float | None:
    from dda.ml.metrics import auroc

    y = np.asarray(labels) > 0
    if y.all() or not y.any():
        return None
    value = auroc(y, np.asarray(scores, dtype=np.float64))
    return None if value is None or np.isnan(value) else float(value)


def _scale(values: list[np.ndarray]) -> float:
    return max(1.0, max((float(np.abs(v).max()) for v in values if v.size), default=1.0))


@dataclass
class _Collected:
    ref: dict[str, list[np.ndarray]] = field(default_factory=dict)
    out: dict[str, list[np.ndarray]] = field(default_factory=dict)
    ref_scores: list[float] = field(default_factory=list)
    out_scores: list[float] = field(default_factory=list)
    agree: list[bool] = field(default_factory=list)
    borderline: int = 0
    per_image: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=lambda: {"reference": 0.0, "exported": 0.0})


def _verdict_space(value: float, model_type: str) -> float:
    """A score on the scale where the gate's tolerance means "rounding": probabilities (every
    model type but anomaly) as logits, anomaly scores (normalised distances) as they are.

    On probabilities an absolute tolerance says nothing near 0 or 1: with a threshold of 0.0007
    (a budget threshold under well-separated normals) a 0.15 band covered every normal image,
    so real INT8 flips (0.0004 -> 0.0075, a factor of 19) passed as "rounding" and the gate
    reported full agreement while the runtime's verdicts agreed on 8 of 16 images. In logits
    the same drift is 2.9, far outside the band.
    """
    if model_type == "anomaly":
        return value
    p = min(max(value, 1e-7), 1.0 - 1e-7)
    return math.log(p / (1.0 - p))


def _is_borderline_flip(ref: Decision, out: Decision, tolerance: float, model_type: str) -> bool:
    """A verdict flip that numeric noise within the gate's own tolerance explains.

    When the reference score sits within ``tolerance`` of the threshold, rounding in the
    exported graph may cross it; the numeric checks already bound that drift, so such a flip
    says nothing about a broken export. It is still listed per image in the report, and
    ``verdict_agreement_exact`` counts it as the disagreement the runtime will show.
    Margin and drift are measured in :func:`_verdict_space`.
    """
    if ref.anomalous == out.anomalous:
        return False
    score = _verdict_space(ref.anomaly_score, model_type)
    threshold = _verdict_space(ref.threshold, model_type)
    margin = abs(score - threshold)
    drift = abs(score - _verdict_space(out.anomaly_score, model_type))
    if model_type != "anomaly":  # logits: an absolute band (scaling by |logit| would widen it again)
        return margin <= tolerance and drift <= tolerance
    return margin <= tolerance * max(1.0, abs(threshold)) and drift <= tolerance * max(1.0, abs(score))


def _collect(
    reference: Runner,
    candidate: Runner,
    golden: ImageSet,
    post: PostProcessConfig,
    tolerance: float,
) -> _Collected:
    got = _Collected()
    for name, image in zip(golden.names, golden.images, strict=True):
        t0 = time.perf_counter()
        ref = {k: np.asarray(v, dtype=np.float32) for k, v in reference(image).items()}
        t1 = time.perf_counter()
        out = {k: np.asarray(v, dtype=np.float32) for k, v in candidate(image).items()}
        got.seconds["reference"] += t1 - t0
        got.seconds["exported"] += time.perf_counter() - t1
        for key in (OUTPUT_SCORES, OUTPUT_ANOMALY_MAP, OUTPUT_CLASS_MAP):
            if key in ref:
                if key not in out or out[key].shape != ref[key].shape:
                    raise InvalidInput(
                        f"exported model output {key!r} is missing or has another shape "
                        f"than PyTorch's on {name}"
                    )
                got.ref.setdefault(key, []).append(ref[key])
                got.out.setdefault(key, []).append(out[key])
        d_ref, d_out = decide(ref, post), decide(out, post)
        got.ref_scores.append(d_ref.ranking_score)
        got.out_scores.append(d_out.ranking_score)
        borderline = _is_borderline_flip(d_ref, d_out, tolerance, post.model_type)
        got.borderline += borderline
        got.agree.append(d_ref.anomalous == d_out.anomalous or borderline)
        got.per_image.append(
            {
                "image": name,
                "score_diff": float(np.abs(ref[OUTPUT_SCORES] - out[OUTPUT_SCORES]).max()),
                "map_diff": float(np.abs(ref[OUTPUT_ANOMALY_MAP] - out[OUTPUT_ANOMALY_MAP]).max()),
                "verdict_reference": "anomaly" if d_ref.anomalous else "normal",
                "verdict_exported": "anomaly" if d_out.anomalous else "normal",
                "borderline_flip": borderline,
                "anomaly_score_reference": d_ref.anomaly_score,
                "anomaly_score_exported": d_out.anomaly_score,
            }
        )
    return got


def _diff_metrics(got: _Collected) -> dict[str, float | None]:
    metrics: dict[str, float | None] = {}
    for key, label in (
        (OUTPUT_SCORES, "score"),
        (OUTPUT_ANOMALY_MAP, "map"),
        (OUTPUT_CLASS_MAP, "class_map"),
    ):
        if key not in got.ref:
            continue
        diffs = [np.abs(r - o) for r, o in zip(got.ref[key], got.out[key], strict=True)]
        scale = _scale(got.ref[key])
        max_diff = max(float(d.max()) if d.size else 0.0 for d in diffs)
        mean_diff = float(np.mean([float(d.mean()) if d.size else 0.0 for d in diffs]))
        metrics[f"max_{label}_diff"] = max_diff
        metrics[f"mean_{label}_diff"] = mean_diff
        metrics[f"{label}_scale"] = scale
        metrics[f"max_{label}_diff_normalised"] = max_diff / scale
        metrics[f"mean_{label}_diff_normalised"] = mean_diff / scale
    return metrics


def run_parity(
    reference: Runner,
    candidate: Runner,
    golden: ImageSet,
    config: Mapping[str, Any],
    *,
    target: str,
    precision: str,
    thresholds: ParityThresholds | None = None,
) -> ParityReport:
    """Run both models on every golden image and apply the precision's thresholds."""
    if not golden.images:
        raise InvalidInput("the golden image set is empty", hint="pass --golden with images")
    limits = thresholds or thresholds_for(precision)
    post = PostProcessConfig.from_mapping(config)
    got = _collect(reference, candidate, golden, post, limits.max_score_diff)
    metrics = _diff_metrics(got)
    n = len(golden.images)
    metrics["verdict_agreement"] = sum(got.agree) / n
    # what the runtime shows: borderline flips are disagreements there
    metrics["verdict_agreement_exact"] = (sum(got.agree) - got.borderline) / n
    metrics["borderline_flips"] = float(got.borderline)
    metrics["reference_ms_per_image"] = 1000.0 * got.seconds["reference"] / n
    metrics["exported_ms_per_image"] = 1000.0 * got.seconds["exported"] / n
    notes: list[str] = []
    if golden.labels is not None:
        ref_auc = _auroc(golden.labels, got.ref_scores)
        out_auc = _auroc(golden.labels, got.out_scores)
        metrics["auroc_reference"], metrics["auroc_exported"] = ref_auc, out_auc
        metrics["auroc_delta"] = None if ref_auc is None or out_auc is None else abs(ref_auc - out_auc)
    else:
        notes.append("golden images carry no labels: AUROC not compared")
    failures = _failures(metrics, limits)
    return ParityReport(target, precision, golden.source, n, limits, metrics, failures, got.per_image, notes)


def _failures(metrics: Mapping[str, float | None], limits: ParityThresholds) -> list[str]:
    checks = [
        ("max_score_diff_normalised", limits.max_score_diff, "max"),
        ("mean_score_diff_normalised", limits.mean_score_diff, "max"),
        ("max_map_diff_normalised", limits.max_map_diff, "max"),
        ("mean_map_diff_normalised", limits.mean_map_diff, "max"),
        ("max_class_map_diff", limits.max_map_diff, "max"),
        ("verdict_agreement", limits.min_verdict_agreement, "min"),
        ("auroc_delta", limits.max_auroc_delta, "max"),
    ]
    failures = []
    for key, limit, kind in checks:
        value = metrics.get(key)
        if value is None:
            continue
        if (kind == "max" and value > limit) or (kind == "min" and value < limit):
            sign = ">" if kind == "max" else "<"
            failures.append(f"{key} = {value:.6g} {sign} {limit:g}")
    return failures


def enforce(report: ParityReport, report_path: Path) -> None:
    """Write the report; raise InvalidInput (naming the failed checks) when the gate failed."""
    report.write(report_path)
    if not report.passed:
        raise InvalidInput(
            f"the {report.precision.upper()} export for {report.target} fails the parity gate "
            f"on {report.images} golden images: {'; '.join(report.failures)} (report: {report_path})",
            hint="export FP32 instead of INT8, give more/better calibration images with --calib, "
            "or check the model's custom layers; the report lists every image",
        )
