"""Digital I/O lines: libgpiod v2 for real chips, and a simulated chip behind the same interface.

A chip path like ``/dev/gpiochip0`` opens a real GPIO chip through the ``gpiod`` package. A path
``sim:<name>`` opens an in-process simulated chip: tests drive its input lines and read back what
outputs did; the demo uses it where a machine has no GPIO hardware.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, Protocol

from dda.core.errors import NotFound, Unavailable

Edge = Literal["rising", "falling"]
Bias = Literal["as_is", "disabled", "pull_up", "pull_down"]
SIM_PREFIX = "sim:"
CONSUMER = "dda-station"


class InputLine(Protocol):
    def wait_edge(self, timeout_s: float) -> bool:
        """Block up to ``timeout_s``; True when the configured edge happened (events are drained)."""
        ...

    def close(self) -> None: ...


class OutputLine(Protocol):
    def set(self, active: bool) -> None: ...

    def close(self) -> None: ...


# --- simulated chips ------------------------------------------------------------------------


@dataclass
class SimulatedChip:
    """An in-process GPIO chip. ``drive`` changes an input level; ``history`` lists output writes."""

    name: str
    levels: dict[int, bool] = field(default_factory=dict)
    writes: dict[int, list[tuple[float, bool]]] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _events: dict[int, list[tuple[float, bool]]] = field(default_factory=dict)

    def drive(self, line: int, level: bool) -> None:
        with self._changed:
            if self.levels.get(line, False) == level:
                return
            self.levels[line] = level
            self._events.setdefault(line, []).append((time.monotonic(), level))
            self._changed.notify_all()

    def pulse(self, line: int, width_s: float = 0.001) -> None:
        self.drive(line, True)
        time.sleep(width_s)
        self.drive(line, False)

    def history(self, line: int) -> list[tuple[float, bool]]:
        with self._changed:
            return list(self.writes.get(line, []))

    def _write(self, line: int, level: bool) -> None:
        with self._changed:
            self.levels[line] = level
            self.writes.setdefault(line, []).append((time.monotonic(), level))


_SIM_CHIPS: dict[str, SimulatedChip] = {}
_SIM_LOCK = threading.Lock()


def simulated_chip(name: str) -> SimulatedChip:
    """The process-wide simulated chip called ``name`` (made on first use)."""
    with _SIM_LOCK:
        return _SIM_CHIPS.setdefault(name, SimulatedChip(name))


class _SimInput:
    def __init__(self, chip: SimulatedChip, line: int, edge: Edge, active_low: bool) -> None:
        self.chip, self.line, self.active_low = chip, line, active_low
        self.want = edge == "rising"
        self._seen = len(chip._events.get(line, []))
        self._closed = False

    def wait_edge(self, timeout_s: float) -> bool:
        def new_edge() -> bool:
            events = self.chip._events.get(self.line, [])
            for _, level in events[self._seen :]:
                self._seen += 1
                if (level != self.active_low) == self.want:
                    return True
            return self._closed

        with self.chip._changed:
            fired = self.chip._changed.wait_for(new_edge, timeout=timeout_s)
        return bool(fired) and not self._closed

    def close(self) -> None:
        with self.chip._changed:
            self._closed = True
            self.chip._changed.notify_all()


class _SimOutput:
    def __init__(self, chip: SimulatedChip, line: int, active_low: bool) -> None:
        self.chip, self.line, self.active_low = chip, line, active_low
        chip._write(line, active_low)  # inactive

    def set(self, active: bool) -> None:
        self.chip._write(self.line, active != self.active_low)

    def close(self) -> None:
        self.set(False)


# --- libgpiod ---------------------------------------------------------------------------------


def _gpiod() -> Any:
    try:
        import gpiod
    except ImportError as exc:
        raise Unavailable(
            "the gpiod package (libgpiod v2 bindings) is not installed",
            hint="pip install gpiod, or use a simulated chip 'sim:<name>'",
        ) from exc
    return gpiod


def _request(chip: str, line: int, settings: Any) -> Any:
    gpiod = _gpiod()
    try:
        return gpiod.request_lines(chip, consumer=CONSUMER, config={line: settings})
    except FileNotFoundError as exc:
        raise NotFound(f"GPIO chip {chip} does not exist", hint="list chips with `gpiodetect`") from exc
    except OSError as exc:
        raise Unavailable(
            f"cannot request line {line} on {chip}: {exc}",
            hint="check the line number, that no other program holds it, and access to the chip device",
        ) from exc


class _GpiodInput:
    def __init__(
        self, chip: str, line: int, edge: Edge, bias: Bias, active_low: bool, debounce_ms: int
    ) -> None:
        gpiod = _gpiod()
        from gpiod.line import Bias as GBias
        from gpiod.line import Direction
        from gpiod.line import Edge as GEdge

        settings = gpiod.LineSettings(
            direction=Direction.INPUT,
            edge_detection=GEdge.RISING if edge == "rising" else GEdge.FALLING,
            bias={
                "as_is": GBias.AS_IS,
                "disabled": GBias.DISABLED,
                "pull_up": GBias.PULL_UP,
                "pull_down": GBias.PULL_DOWN,
            }[bias],
            active_low=active_low,
            debounce_period=timedelta(milliseconds=debounce_ms),
        )
        self._request = _request(chip, line, settings)

    def wait_edge(self, timeout_s: float) -> bool:
        if not self._request.wait_edge_events(timedelta(seconds=timeout_s)):
            return False
        return bool(self._request.read_edge_events())

    def close(self) -> None:
        self._request.release()


class _GpiodOutput:
    def __init__(self, chip: str, line: int, active_low: bool) -> None:
        gpiod = _gpiod()
        from gpiod.line import Direction, Value

        self._line, self._value = line, Value
        settings = gpiod.LineSettings(
            direction=Direction.OUTPUT, active_low=active_low, output_value=Value.INACTIVE
        )
        self._request = _request(chip, line, settings)

    def set(self, active: bool) -> None:
        self._request.set_value(self._line, self._value.ACTIVE if active else self._value.INACTIVE)

    def close(self) -> None:
        self.set(False)
        self._request.release()


def open_input(
    chip: str, line: int, edge: Edge, *, bias: Bias = "as_is", active_low: bool = False, debounce_ms: int = 0
) -> InputLine:
    if chip.startswith(SIM_PREFIX):
        return _SimInput(simulated_chip(chip[len(SIM_PREFIX) :]), line, edge, active_low)
    return _GpiodInput(chip, line, edge, bias, active_low, debounce_ms)


def open_output(chip: str, line: int, *, active_low: bool = False) -> OutputLine:
    if chip.startswith(SIM_PREFIX):
        return _SimOutput(simulated_chip(chip[len(SIM_PREFIX) :]), line, active_low)
    return _GpiodOutput(chip, line, active_low)
