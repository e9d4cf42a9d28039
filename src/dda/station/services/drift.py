"""Drift alarm: the recent anomaly scores and image statistics (brightness, sharpness) of each
workflow against a reference, so a dirty lens, a dimmer lamp or a new product batch is noticed
before the verdicts go wrong.

Reference: the package's training statistics when its manifest carries them
(``metrics["drift_reference"] = {"anomaly_score": {"mean": m, "std": s}, "brightness": ...,
"sharpness": ...}``), otherwise the first ``reference_size`` results of the workflow's model.
A statistic drifts when the mean of the last ``window`` results moved more than ``bound``
reference standard deviations. Sharpness (a variance) is compared on a log scale.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dda.station.services.metrics import StationMetrics

STATISTICS = ("anomaly_score", "brightness", "sharpness")
STD_FLOOR = {"anomaly_score": 0.01, "brightness": 2.0, "sharpness": 0.05}


def _value(statistic: str, value: float) -> float:
    return math.log1p(max(value, 0.0)) if statistic == "sharpness" else float(value)


@dataclass
class _Track:
    model: tuple[str, str]
    reference: dict[str, tuple[float, float]] | None = None
    source: str = ""
    baseline: list[dict[str, float]] = field(default_factory=list)
    recent: deque[dict[str, float]] = field(default_factory=deque)
    shifts: dict[str, float] = field(default_factory=dict)
    alarm: list[str] = field(default_factory=list)


def package_reference(metrics: dict[str, Any] | None) -> dict[str, tuple[float, float]] | None:
    """Training statistics from a package manifest's ``metrics``, when present and well formed."""
    raw = (metrics or {}).get("drift_reference")
    if not isinstance(raw, dict):
        return None
    reference: dict[str, tuple[float, float]] = {}
    for statistic in STATISTICS:
        entry = raw.get(statistic)
        if isinstance(entry, dict) and isinstance(entry.get("mean"), (int, float)):
            std = entry.get("std")
            mean = float(entry["mean"])
            spread = float(std) if isinstance(std, (int, float)) else 0.0
            if statistic == "sharpness":  # given on the linear scale; compared on the log scale
                mean, spread = math.log1p(max(mean, 0.0)), spread / (1.0 + max(mean, 0.0))
            reference[statistic] = (mean, spread)
    return reference or None


class DriftMonitor:
    def __init__(
        self, metrics: StationMetrics, window: int = 50, reference_size: int = 100, bound: float = 3.0
    ) -> None:
        self.metrics = metrics
        self.window = window
        self.reference_size = reference_size
        self.bound = bound
        self._tracks: dict[str, _Track] = {}
        self._lock = threading.Lock()

    def _track(self, workflow: str, model: tuple[str, str], reference: dict[str, Any] | None) -> _Track:
        track = self._tracks.get(workflow)
        if track is None or track.model != model:  # a new model: a new reference
            track = _Track(model, recent=deque(maxlen=self.window))
            if reference:
                track.reference, track.source = reference, "package"
            self._tracks[workflow] = track
        return track

    def _baseline(self, track: _Track, sample: dict[str, float]) -> None:
        track.baseline.append(sample)
        if len(track.baseline) >= self.reference_size:
            track.reference = {}
            for statistic in STATISTICS:
                values = np.asarray([s[statistic] for s in track.baseline if statistic in s])
                if len(values):
                    track.reference[statistic] = (float(values.mean()), float(values.std()))
            track.source, track.baseline = "first_results", []

    def _judge(self, workflow: str, track: _Track) -> None:
        assert track.reference is not None
        track.shifts, track.alarm = {}, []
        if len(track.recent) < min(self.window, max(5, self.window // 2)):
            return
        for statistic, (mean, std) in track.reference.items():
            values = [s[statistic] for s in track.recent if statistic in s]
            if not values:
                continue
            shift = abs(float(np.mean(values)) - mean) / max(std, STD_FLOOR[statistic])
            track.shifts[statistic] = round(shift, 3)
            self.metrics.drift_shift.labels(workflow, statistic).set(shift)
            if shift > self.bound:
                track.alarm.append(statistic)
        self.metrics.drift_alarm.labels(workflow).set(1 if track.alarm else 0)

    def observe(
        self,
        workflow: str,
        model: tuple[str, str],
        score: float,
        stats: tuple[float, float] | None,
        reference: dict[str, Any] | None = None,
    ) -> list[str]:
        """Add one result; returns the statistics in alarm for ``workflow`` (empty: no drift)."""
        sample = {"anomaly_score": float(score)}
        if stats is not None:
            sample["brightness"] = _value("brightness", stats[0])
            sample["sharpness"] = _value("sharpness", stats[1])
        with self._lock:
            track = self._track(workflow, model, reference)
            if track.reference is None:
                self._baseline(track, sample)
                return []
            track.recent.append(sample)
            self._judge(workflow, track)
            return list(track.alarm)

    def alarm(self, workflow: str) -> list[str]:
        with self._lock:
            track = self._tracks.get(workflow)
            return list(track.alarm) if track else []

    def reset(self, workflow: str) -> None:
        """Accept the current state as the new normal: the next results become the reference."""
        with self._lock:
            self._tracks.pop(workflow, None)
        self.metrics.drift_alarm.labels(workflow).set(0)

    def status(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {
                name: {
                    "alarm": bool(track.alarm),
                    "drifting": list(track.alarm),
                    "shifts": dict(track.shifts),
                    "bound": self.bound,
                    "reference": track.source or f"collecting ({len(track.baseline)}/{self.reference_size})",
                    "model": f"{track.model[0]}:{track.model[1]}",
                    "window": len(track.recent),
                }
                for name, track in self._tracks.items()
            }
