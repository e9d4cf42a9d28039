"""Digital output: pulse a GPIO line (stack light, reject diverter, PLC input) for matching results."""

from __future__ import annotations

import threading
from typing import Literal

from pydantic import Field

from dda.station.plugins import gpio
from dda.station.plugins.outputs.base import OutputConfigBase, ResultEvent, Rule


class DigitalOutputConfig(OutputConfigBase):
    title = "Digital output pulse (GPIO)"
    type: Literal["digital_output"] = "digital_output"
    chip: str = Field("/dev/gpiochip0", description="GPIO chip device, or 'sim:<name>' for a simulated chip")
    line: int = Field(..., ge=0, le=1023)
    rule: Rule = Field("anomaly", description="Pulse for all results, only normal ones, or only anomalies")
    pulse_ms: int = Field(100, ge=1, le=60_000)
    active_low: bool = False


class DigitalOutput:
    def __init__(self, config: DigitalOutputConfig) -> None:
        self.config = config
        self._line: gpio.OutputLine | None = None
        self._stop = threading.Event()

    def setup(self) -> None:
        self._stop.clear()
        self._line = gpio.open_output(self.config.chip, self.config.line, active_low=self.config.active_low)

    def emit(self, event: ResultEvent) -> None:
        if self._line is None or not event.matches(self.config.rule):
            return
        self._line.set(True)
        try:
            self._stop.wait(self.config.pulse_ms / 1000)
        finally:
            self._line.set(False)

    def teardown(self) -> None:
        self._stop.set()
        if self._line is not None:
            self._line.close()
            self._line = None
