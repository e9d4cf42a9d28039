"""Threshold calibration from reviewed results: the threshold that keeps the false-reject rate of
good parts within a budget, and the miss rate (defects passed) that it costs.

Only results an operator reviewed (``human_classification`` set) count, and only those scored by
the workflow's current model version: scores of different models are not comparable. A part is
rejected when its anomaly score is above the threshold.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from dda.core.errors import Conflict, NotFound
from dda.station.db.models import InferenceResult
from dda.station.services.workflows import get

MAX_REVIEWED = 100_000
CURVE_POINTS = 101


@dataclass(frozen=True)
class Calibration:
    threshold: float
    budget: float
    false_reject_rate: float  # of the reviewed good parts, at the threshold
    miss_rate: float | None  # of the reviewed defects (None: no defect reviewed yet)
    good: int
    defects: int
    current_threshold: float | None
    enough_data: bool  # enough good parts for the budget to mean something (>= 1 / budget)
    model_name: str
    model_version: str
    curve: list[dict[str, float | None]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reviewed_scores(session: Session, workflow_id: int) -> tuple[np.ndarray, np.ndarray, str, str]:
    row = get(session, workflow_id)
    query = (
        select(InferenceResult.anomaly_score, InferenceResult.human_classification)
        .where(
            InferenceResult.workflow_id == workflow_id,
            InferenceResult.human_classification.is_not(None),
            InferenceResult.model_name == row.model_name,
            InferenceResult.model_version == row.model_version,
        )
        .order_by(InferenceResult.id.desc())
        .limit(MAX_REVIEWED)
    )
    pairs = list(session.execute(query))
    good = np.asarray([s for s, label in pairs if label == "normal"], dtype=np.float64)
    bad = np.asarray([s for s, label in pairs if label != "normal"], dtype=np.float64)
    return good, bad, row.model_name, row.model_version


def budget_threshold(good: np.ndarray, budget: float) -> float:
    """The lowest threshold with at most ``budget`` of the good scores above it."""
    ordered = np.sort(good)[::-1]
    allowed = math.floor(budget * len(ordered) + 1e-9)
    if allowed >= len(ordered):
        return float(ordered[-1]) - 1e-9
    return float(ordered[allowed])


def _rates(good: np.ndarray, bad: np.ndarray, threshold: float) -> tuple[float, float | None]:
    frr = float(np.mean(good > threshold)) if len(good) else 0.0
    miss = float(np.mean(bad <= threshold)) if len(bad) else None
    return frr, miss


def _curve(good: np.ndarray, bad: np.ndarray) -> list[dict[str, float | None]]:
    scores = np.concatenate([good, bad])
    points = np.unique(np.quantile(scores, np.linspace(0, 1, CURVE_POINTS)))
    curve: list[dict[str, float | None]] = []
    for threshold in points:
        frr, miss = _rates(good, bad, float(threshold))
        curve.append({"threshold": float(threshold), "false_reject_rate": frr, "miss_rate": miss})
    return curve


def calibrate(session: Session, workflow_id: int, budget: float) -> Calibration:
    good, bad, model_name, model_version = reviewed_scores(session, workflow_id)
    if len(good) == 0:
        raise Conflict(
            "no reviewed good parts for this workflow's model yet",
            hint="review results in History (mark good parts 'normal') and calibrate again",
        )
    threshold = budget_threshold(good, budget)
    frr, miss = _rates(good, bad, threshold)
    return Calibration(
        threshold=threshold,
        budget=budget,
        false_reject_rate=frr,
        miss_rate=miss,
        good=len(good),
        defects=len(bad),
        current_threshold=get(session, workflow_id).threshold,
        enough_data=len(good) >= math.ceil(1 / budget),
        model_name=model_name,
        model_version=model_version,
        curve=_curve(good, bad),
    )


def plot_png(calibration: Calibration) -> bytes:
    """False-reject and miss rate against the threshold, with the proposed threshold marked."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise NotFound(
            "the calibration plot needs matplotlib, which is not installed on this station",
            hint="GET .../calibration returns the same curve as data",
        ) from exc

    def column(key: str) -> np.ndarray:
        return np.asarray([np.nan if p[key] is None else p[key] for p in calibration.curve], dtype=float)

    xs = column("threshold")
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    ax.plot(xs, column("false_reject_rate"), label="false rejects (good parts)")
    if calibration.miss_rate is not None:
        ax.plot(xs, column("miss_rate"), label="misses (defects passed)")
    proposed = f"proposed {calibration.threshold:.4g}"
    ax.axvline(calibration.threshold, color="k", linestyle="--", label=proposed)
    ax.axhline(calibration.budget, color="grey", linestyle=":", label=f"budget {calibration.budget:.2%}")
    ax.set_xlabel("anomaly score threshold")
    ax.set_ylabel("rate")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
