"""Triggers with no device behind them: manual, timer and continuous."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Literal

from pydantic import Field

from dda.station.plugins.triggers.base import TriggerConfigBase, TriggerEvent


class ManualTriggerConfig(TriggerConfigBase):
    title = "Manual (Run button / API)"
    type: Literal["manual"] = "manual"


class ManualTrigger:
    """Fires when someone calls :meth:`fire` (the API's run endpoint does this for running workflows)."""

    latest_frame_only = False

    def __init__(self, config: ManualTriggerConfig) -> None:
        self.config = config
        self._fired: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=64)

    def setup(self) -> None:
        pass

    def fire(self, **detail: Any) -> None:
        self._fired.put_nowait(detail)

    def wait(self, stop: threading.Event, timeout_s: float) -> TriggerEvent | None:
        try:
            detail = self._fired.get(timeout=timeout_s)
        except queue.Empty:
            return None
        return None if stop.is_set() else TriggerEvent("manual", detail)

    def teardown(self) -> None:
        pass


class TimerTriggerConfig(TriggerConfigBase):
    title = "Timer"
    type: Literal["timer"] = "timer"
    interval_s: float = Field(1.0, ge=0.01, le=86_400, description="Seconds between captures")


class TimerTrigger:
    """Fires on a fixed-rate schedule; ticks missed while a capture ran long are skipped, not queued."""

    latest_frame_only = False

    def __init__(self, config: TimerTriggerConfig) -> None:
        self.config = config
        self._next = 0.0

    def setup(self) -> None:
        self._next = time.monotonic() + self.config.interval_s

    def wait(self, stop: threading.Event, timeout_s: float) -> TriggerEvent | None:
        if stop.is_set():
            return None
        now = time.monotonic()
        if now >= self._next:
            missed = int((now - self._next) // self.config.interval_s)
            self._next += (missed + 1) * self.config.interval_s
            return TriggerEvent("timer", {"skipped_ticks": missed} if missed else {})
        if stop.wait(min(timeout_s, self._next - now)):
            return None
        return self.wait(stop, 0) if time.monotonic() >= self._next else None

    def teardown(self) -> None:
        pass


class ContinuousTriggerConfig(TriggerConfigBase):
    title = "Continuous"
    type: Literal["continuous"] = "continuous"


class ContinuousTrigger:
    """Fires again as soon as the previous capture is done; frames that arrived meanwhile are dropped."""

    latest_frame_only = True

    def __init__(self, config: ContinuousTriggerConfig) -> None:
        self.config = config

    def setup(self) -> None:
        pass

    def wait(self, stop: threading.Event, timeout_s: float) -> TriggerEvent | None:
        return None if stop.is_set() else TriggerEvent("continuous")

    def teardown(self) -> None:
        pass
