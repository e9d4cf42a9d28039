"""The PLC handshake, written once over named tags; Modbus TCP and OPC UA supply the tags.

The exchange (a four-way handshake, as lines wire a vision sensor):

1. The PLC writes the part id and the recipe number, then raises ``trigger``.
2. The station's trigger sees the rising edge, reads part id and recipe, and captures.
3. The station's output writes ``verdict`` (1 good, 2 defect), ``result_code`` (0 inspected) and
   ``score``, then raises ``done``.
4. The PLC reads them and drops ``trigger``; the station then drops ``done``.

Failures: a capture that fails (no image, a broken image, an unknown recipe, inference or storage
failed) is answered at once with ``result_code`` 1, ``verdict`` 0 (no verdict: the previous part's
must not be read as this one's) and ``done``. Timeouts: the output waits at most ``ack_timeout_s``
for step 4 (then drops ``done`` and reports the delivery as failed). The trigger answers a
handshake that got no answer at all within ``result_timeout_s`` with ``result_code`` 2 and
``done``, so the line never waits forever. After either answer the trigger drops ``done`` once the
PLC drops its trigger, as the output does after a verdict. Heartbeat: the trigger writes a counter
to ``heartbeat`` every ``heartbeat_s``; a PLC watchdog that sees it stop knows the station is
gone. A dropped connection is retried every ``reconnect_s``; a trigger still high after a
reconnect is not a new trigger.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, Field

from dda.core.errors import Unavailable
from dda.core.logging import get_logger

if TYPE_CHECKING:  # the plugin families import this module: no import of them at load time
    from dda.station.plugins.outputs.base import ResultEvent
    from dda.station.plugins.triggers.base import TriggerEvent

log = get_logger(__name__)

VERDICT_GOOD, VERDICT_DEFECT = 1, 2
VERDICT_NONE = 0  # written with an error or timeout answer
RESULT_OK, RESULT_ERROR, RESULT_TIMEOUT = 0, 1, 2
Rule = Literal["all", "normal", "anomaly"]  # as outputs.base.Rule


class PlcTags(Protocol):
    """Named tags on one PLC connection. ``has`` says whether a tag is mapped in the config."""

    def connect(self) -> None: ...

    def close(self) -> None: ...

    def has(self, tag: str) -> bool: ...

    def read_flag(self, tag: str) -> bool: ...

    def read_int(self, tag: str) -> int: ...

    def read_text(self, tag: str) -> str: ...

    def write_int(self, tag: str, value: int) -> None: ...

    def write_float(self, tag: str, value: float) -> None: ...

    def write_flag(self, tag: str, value: bool) -> None: ...


class TriggerTiming(BaseModel):
    poll_ms: int = Field(20, ge=1, le=10_000, description="How often the trigger tag is read")
    result_timeout_s: float = Field(
        10.0, gt=0, le=3600, description="Answer with result code 2 when no result came in this time"
    )
    heartbeat_s: float = Field(1.0, gt=0, le=3600, description="Heartbeat counter period")
    reconnect_s: float = Field(1.0, gt=0, le=600, description="Wait between reconnect attempts")


class OutputTiming(BaseModel):
    rule: Rule = Field("all", description="Answer the PLC for all results, or only normal/anomaly ones")
    ack_timeout_s: float = Field(
        5.0, ge=0, le=3600, description="Time the PLC has to drop its trigger after done (0: no wait)"
    )


class HandshakeTrigger:
    """Fires on the trigger tag's rising edge; keeps the heartbeat and answers stalled handshakes."""

    latest_frame_only = False

    def __init__(self, tags: PlcTags, timing: TriggerTiming, capture_type: str) -> None:
        self.tags = tags
        self.timing = timing
        self.capture_type = capture_type
        self._connected = False
        self._last_high: bool | None = None  # unknown after (re)connecting: no edge on the first read
        self._pending_since: float | None = None
        self._next_beat = 0.0
        self._next_connect = 0.0
        self._beat = 0
        self.heartbeats = 0
        self._answered = False  # the trigger raised done itself (error/timeout): drop it after the PLC
        self._io = threading.Lock()  # one PLC connection: polls and failure answers take turns

    def setup(self) -> None:
        self._connect()

    def _connect(self) -> None:
        try:
            self.tags.connect()
        except Exception as exc:
            raise Unavailable(
                f"cannot connect to the PLC: {exc}", hint="check the PLC address, port and that it is on"
            ) from exc
        self._connected = True
        self._last_high = None

    def _lost(self, exc: Exception) -> None:
        if self._connected:
            log.warning("PLC connection lost", protocol=self.capture_type, error=str(exc))
        self._connected = False
        self._last_high = None
        self._pending_since = None
        self._next_connect = time.monotonic() + self.timing.reconnect_s
        with contextlib.suppress(Exception):  # already broken
            self.tags.close()

    def _heartbeat(self, now: float) -> None:
        if self.tags.has("heartbeat") and now >= self._next_beat:
            self._beat = (self._beat + 1) % 65536
            self.tags.write_int("heartbeat", self._beat)
            self.heartbeats += 1
            self._next_beat = now + self.timing.heartbeat_s

    def _answer(self, code: int) -> None:
        """Answer the pending handshake without a verdict (error or timeout)."""
        if self.tags.has("verdict"):
            self.tags.write_int("verdict", VERDICT_NONE)
        if self.tags.has("result_code"):
            self.tags.write_int("result_code", code)
        if self.tags.has("done"):
            self.tags.write_flag("done", True)
            self._answered = True
        self._pending_since = None

    def _answer_stalled(self, now: float, high: bool) -> None:
        if self._answered and not high:
            self.tags.write_flag("done", False)  # the PLC has read our answer: handshake complete
            self._answered = False
        if self._pending_since is None:
            return
        if not high or (self.tags.has("done") and self.tags.read_flag("done")):
            self._pending_since = None  # answered (or the PLC gave up)
        elif now - self._pending_since > self.timing.result_timeout_s:
            log.warning("no result for the PLC in time: answering with a timeout", protocol=self.capture_type)
            self._answer(RESULT_TIMEOUT)

    def capture_failed(self, event: TriggerEvent, message: str) -> None:
        """The capture this trigger asked for failed: tell the PLC now (result code 1), not by the
        result timeout. Called from the trigger's worker or the store stage (any thread)."""
        with self._io:
            if not self._connected or self._pending_since is None:
                return  # reconnected since (the handshake was reset) or already answered
            log.warning("capture failed: answering the PLC with result code 1", error=message)
            try:
                self._answer(RESULT_ERROR)
            except Exception as exc:
                self._lost(exc)

    def _poll(self) -> TriggerEvent | None:
        now = time.monotonic()
        self._heartbeat(now)
        high = self.tags.read_flag("trigger")
        rising = high and self._last_high is False
        self._last_high = high
        self._answer_stalled(now, high)
        if not rising:
            return None
        detail: dict[str, Any] = {}
        if self.tags.has("part_id"):
            detail["part_id"] = self.tags.read_text("part_id")
        if self.tags.has("recipe"):
            detail["recipe"] = self.tags.read_int("recipe")
        self._pending_since = now
        from dda.station.plugins.triggers.base import TriggerEvent

        return TriggerEvent(self.capture_type, detail)

    def _step(self) -> TriggerEvent | None:
        if not self._connected:
            if time.monotonic() < self._next_connect:
                return None
            try:
                self._connect()
            except Unavailable as exc:
                self._lost(exc)
                return None
            log.info("PLC connection restored", protocol=self.capture_type)
        try:
            with self._io:
                return self._poll()
        except Exception as exc:
            self._lost(exc)
            return None

    def wait(self, stop: threading.Event, timeout_s: float) -> TriggerEvent | None:
        deadline = time.monotonic() + timeout_s
        while not stop.is_set():
            event = self._step()
            if event is not None:
                return None if stop.is_set() else event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            stop.wait(min(self.timing.poll_ms / 1000, remaining))
        return None

    def teardown(self) -> None:
        with self._io:
            self.tags.close()
            self._connected = False


class HandshakeOutput:
    """Writes verdict, result code and score, raises done, waits for the PLC's acknowledgement."""

    def __init__(self, tags: PlcTags, timing: OutputTiming, poll_ms: int = 10) -> None:
        self.tags = tags
        self.timing = timing
        self.poll_s = poll_ms / 1000
        self._connected = False
        self._stop = threading.Event()

    def setup(self) -> None:
        self._stop.clear()
        try:
            self.tags.connect()
            self._connected = True
        except Exception as exc:
            raise Unavailable(
                f"cannot connect to the PLC: {exc}", hint="check the PLC address and port"
            ) from exc

    def _write_result(self, event: ResultEvent) -> None:
        verdict = VERDICT_DEFECT if event.prediction == "anomaly" else VERDICT_GOOD
        if self.tags.has("verdict"):
            self.tags.write_int("verdict", verdict)
        if self.tags.has("result_code"):
            self.tags.write_int("result_code", RESULT_OK)
        if self.tags.has("score"):
            self.tags.write_float("score", float(event.payload.get("anomaly_score") or 0.0))
        if self.tags.has("done"):
            self.tags.write_flag("done", True)

    def _await_ack(self) -> bool:
        """True once the PLC dropped the trigger (or nothing to wait for); done is dropped either way."""
        acked = True
        if self.tags.has("trigger") and self.timing.ack_timeout_s > 0:
            deadline = time.monotonic() + self.timing.ack_timeout_s
            while self.tags.read_flag("trigger"):
                if time.monotonic() >= deadline or self._stop.is_set():
                    acked = False
                    break
                self._stop.wait(self.poll_s)
        if self.tags.has("done"):
            self.tags.write_flag("done", False)
        return acked

    def emit(self, event: ResultEvent) -> None:
        if not event.matches(self.timing.rule):
            return
        try:
            if not self._connected:
                self.tags.connect()
                self._connected = True
            self._write_result(event)
            acked = self._await_ack()
        except Exception as exc:
            self._connected = False
            with contextlib.suppress(Exception):
                self.tags.close()
            raise Unavailable(f"PLC handshake failed: {exc}", hint="check the PLC connection") from exc
        if not acked:
            raise Unavailable(
                f"the PLC did not drop its trigger within {self.timing.ack_timeout_s:g} s of done",
                hint="check the PLC program's handshake, or raise ack_timeout_s",
            )

    def teardown(self) -> None:
        self._stop.set()
        self.tags.close()
        self._connected = False
