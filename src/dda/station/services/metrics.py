"""Per-stage latency, throughput and counts: Prometheus metrics plus recent percentiles for the UI."""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

STAGES = ("acquire", "preprocess", "inference", "store", "total")
WINDOW = 2000  # recent samples kept per stage for p50/p99
THROUGHPUT_WINDOW_S = 60.0
BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class StationMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.stage_latency = Histogram(
            "dda_stage_latency_seconds",
            "Latency of each capture stage",
            ["stage"],
            registry=self.registry,
            buckets=BUCKETS,
        )
        self.results = Counter(
            "dda_results_total",
            "Stored inference results",
            ["workflow", "prediction"],
            registry=self.registry,
        )
        self.dropped = Counter(
            "dda_frames_dropped_total",
            "Stale frames dropped in continuous mode",
            ["workflow"],
            registry=self.registry,
        )
        self.errors = Counter(
            "dda_capture_errors_total", "Captures that failed", ["workflow", "stage"], registry=self.registry
        )
        self.output_failures = Counter(
            "dda_output_failures_total",
            "Output deliveries that failed",
            ["workflow", "output"],
            registry=self.registry,
        )
        self.models_loaded = Gauge("dda_models_loaded", "Models loaded in memory", registry=self.registry)
        self.workflows_running = Gauge("dda_workflows_running", "Running workflows", registry=self.registry)
        self.storage_bytes = Gauge(
            "dda_storage_bytes", "Bytes used by stored results", registry=self.registry
        )
        self.drift_shift = Gauge(
            "dda_drift_shift",
            "Recent mean of a statistic vs its reference, in reference standard deviations",
            ["workflow", "statistic"],
            registry=self.registry,
        )
        self.drift_alarm = Gauge(
            "dda_drift_alarm",
            "1 while a workflow's inputs or scores drift",
            ["workflow"],
            registry=self.registry,
        )
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {stage: deque(maxlen=WINDOW) for stage in STAGES}
        self._done: deque[float] = deque(maxlen=100_000)

    def observe(self, workflow: str, prediction: str, latency_ms: dict[str, float]) -> None:
        for stage, value in latency_ms.items():
            if stage in self._recent:
                self.stage_latency.labels(stage).observe(value / 1000)
        self.results.labels(workflow, prediction).inc()
        with self._lock:
            for stage, value in latency_ms.items():
                if stage in self._recent:
                    self._recent[stage].append(value)
            self._done.append(time.monotonic())

    def percentiles(self) -> dict[str, dict[str, float | None]]:
        """Milliseconds per stage over the recent window: {stage: {p50, p99, count}}."""
        with self._lock:
            snapshot = {stage: list(values) for stage, values in self._recent.items()}
        out: dict[str, dict[str, float | None]] = {}
        for stage, values in snapshot.items():
            if values:
                p50, p99 = np.percentile(np.asarray(values), [50, 99])
                out[stage] = {"p50": round(float(p50), 3), "p99": round(float(p99), 3), "count": len(values)}
            else:
                out[stage] = {"p50": None, "p99": None, "count": 0}
        return out

    def throughput(self) -> float:
        """Results per second over the last minute."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._done if now - t <= THROUGHPUT_WINDOW_S]
        if len(recent) < 2:
            return 0.0
        span = max(now - recent[0], 1e-6)
        return round(len(recent) / span, 3)
