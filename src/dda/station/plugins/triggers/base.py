"""The trigger family: when a workflow takes a picture."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict


class TriggerConfigBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: ClassVar[str] = ""


@dataclass
class TriggerEvent:
    """One firing. ``capture_type`` is stored on the result (manual, timer, digital_input, ...)."""

    capture_type: str
    detail: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class TriggerPlugin(Protocol):
    """``setup`` acquires what the trigger listens to (a GPIO line, an MQTT subscription);
    ``wait`` blocks until the trigger fires, ``stop`` is set, or ``timeout_s`` passes (then None);
    ``teardown`` releases it. ``latest_frame_only``: take the newest frame and drop stale ones."""

    latest_frame_only: bool

    def setup(self) -> None: ...

    def wait(self, stop: threading.Event, timeout_s: float) -> TriggerEvent | None: ...

    def teardown(self) -> None: ...


@runtime_checkable
class ReportsFailures(Protocol):
    """A trigger whose sender waits for an answer (a PLC handshake): told at once when the capture
    it asked for failed, from any thread, so it can answer with an error instead of a timeout."""

    def capture_failed(self, event: TriggerEvent, message: str) -> None: ...
