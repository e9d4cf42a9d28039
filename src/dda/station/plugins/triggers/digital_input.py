"""Digital input: a PLC or light barrier signal on a GPIO line (libgpiod), with debounce."""

from __future__ import annotations

import threading
import time
from typing import Literal

from pydantic import Field

from dda.station.plugins import gpio
from dda.station.plugins.triggers.base import TriggerConfigBase, TriggerEvent


class DigitalInputTriggerConfig(TriggerConfigBase):
    title = "Digital input (GPIO)"
    type: Literal["digital_input"] = "digital_input"
    chip: str = Field("/dev/gpiochip0", description="GPIO chip device, or 'sim:<name>' for a simulated chip")
    line: int = Field(..., ge=0, le=1023, description="Line offset on the chip")
    edge: gpio.Edge = "rising"
    debounce_ms: int = Field(50, ge=0, le=10_000)
    bias: gpio.Bias = "as_is"
    active_low: bool = False


class DigitalInputTrigger:
    """Fires on the configured edge; edges within ``debounce_ms`` of the last accepted one are ignored
    (in software, on top of the kernel debounce where the chip supports it)."""

    latest_frame_only = False

    def __init__(self, config: DigitalInputTriggerConfig) -> None:
        self.config = config
        self._line: gpio.InputLine | None = None
        self._last_fire = float("-inf")

    def setup(self) -> None:
        c = self.config
        self._line = gpio.open_input(
            c.chip, c.line, c.edge, bias=c.bias, active_low=c.active_low, debounce_ms=c.debounce_ms
        )

    def wait(self, stop: threading.Event, timeout_s: float) -> TriggerEvent | None:
        if self._line is None or stop.is_set():
            return None
        if not self._line.wait_edge(timeout_s) or stop.is_set():
            return None
        now = time.monotonic()
        if (now - self._last_fire) * 1000 < self.config.debounce_ms:
            return None  # a bounce
        self._last_fire = now
        return TriggerEvent("digital_input", {"chip": self.config.chip, "line": self.config.line})

    def teardown(self) -> None:
        if self._line is not None:
            self._line.close()
            self._line = None
