"""What a workflow keeps: every anomaly, a sample of normal parts, for a limited time.

A line running at several parts a second fills any disk with good parts nobody looks at. With
``normal_sample_every: N`` only every N-th normal result of a trigger loop is stored (anomalies
always are, and so is every result of a Run from the API); the others still go to the outputs,
the metrics and the drift alarm. ``retention_days`` removes a workflow's results older than that
(flagged results not yet exported are kept, as with the storage quota).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

RETENTION_CHECK_S = 60.0


class StoragePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    normal_sample_every: int = Field(
        default=1, ge=1, le=1_000_000, description="Store every N-th normal result (1: all); anomalies always"
    )
    retention_days: float | None = Field(
        default=None,
        gt=0,
        le=36_500,
        description="Delete this workflow's results older than this (None: keep)",
    )


class NormalSampler:
    """Counts normal results of one workflow and says which to store."""

    def __init__(self, every: int) -> None:
        self.every = every
        self._seen = 0
        self._lock = threading.Lock()

    def keep(self, verdict: str) -> bool:
        if verdict != "normal" or self.every <= 1:
            return True
        with self._lock:
            self._seen += 1
            return self._seen % self.every == 1


class RetentionClock:
    """Runs a retention sweep at most once a minute per workflow."""

    def __init__(self, interval_s: float = RETENTION_CHECK_S) -> None:
        self.interval_s = interval_s
        self._next: dict[int, float] = {}
        self._lock = threading.Lock()

    def due(self, workflow_id: int) -> bool:
        now = time.monotonic()
        with self._lock:
            if now < self._next.get(workflow_id, 0.0):
                return False
            self._next[workflow_id] = now + self.interval_s
            return True


def cutoff(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)
