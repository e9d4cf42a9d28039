"""A rolling hour of host and station figures for the health charts (sampled in the background)."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from dda.station.context import Station


HISTORY_INTERVAL_S = 5.0
HISTORY_SAMPLES = 720  # one hour at one sample per 5 s


class HealthHistory:
    """Host and station figures sampled every few seconds in the background and kept for an hour,
    so the health charts show the recent past as soon as the page opens."""

    def __init__(self, interval_s: float = HISTORY_INTERVAL_S, size: int = HISTORY_SAMPLES) -> None:
        self.interval_s = interval_s
        self._samples: deque[dict[str, float]] = deque(maxlen=size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self, station: Station) -> dict[str, float]:
        memory = psutil.virtual_memory()
        point = {
            "t": round(time.time(), 1),
            "cpu_percent": psutil.cpu_percent(interval=None),
            "memory_percent": memory.percent,
            "rss_mb": round(psutil.Process(os.getpid()).memory_info().rss / 2**20, 1),
            "throughput_per_s": round(station.metrics.throughput(), 3),
        }
        self._samples.append(point)
        return point

    def start(self, station: Station) -> None:
        def run() -> None:
            while not self._stop.wait(self.interval_s):
                try:
                    self.sample(station)
                except Exception:  # noqa: S112 - a missed sample must not end the sampler
                    continue

        self._thread = threading.Thread(target=run, name="health-history", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def points(self) -> list[dict[str, float]]:
        return list(self._samples)
