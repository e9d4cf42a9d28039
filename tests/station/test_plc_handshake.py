"""The PLC handshake against real protocol servers on loopback: pymodbus' Modbus TCP server and an
asyncua OPC UA server, with the PLC's side played through the same protocol. Includes a PLC that
drops the connection in the middle of a handshake, and both timeouts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from dda.core.errors import Unavailable
from dda.station.plugins.outputs import ResultEvent, build_output
from dda.station.plugins.outputs.plc import ModbusOutputConfig, OpcUaOutputConfig
from dda.station.plugins.plc.handshake import HandshakeTrigger
from dda.station.plugins.triggers import TriggerEvent, build_trigger
from dda.station.plugins.triggers.plc import ModbusTriggerConfig, OpcUaTriggerConfig
from tests.station.plc_util import (
    DONE,
    HEARTBEAT,
    RESULT_CODE,
    TRIGGER,
    VERDICT,
    ModbusPlc,
    OpcUaPlc,
    modbus_plc,
    opcua_plc,
)

DEFECT = ResultEvent({"result_id": 1, "prediction": "anomaly", "anomaly_score": 0.875})
GOOD = ResultEvent({"result_id": 2, "prediction": "normal", "anomaly_score": 0.125})


def _event(trigger: Any, timeout_s: float = 10) -> TriggerEvent | None:
    stop = threading.Event()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        event = trigger.wait(stop, 0.1)
        if event is not None:
            return event
    return None


def _until(condition: Callable[[], bool], timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _in_background(fn: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def _modbus_pair(plc: ModbusPlc, **trigger_args: Any) -> tuple[Any, Any]:
    trigger = build_trigger(
        ModbusTriggerConfig(host="127.0.0.1", port=plc.port, poll_ms=5, heartbeat_s=0.05, **trigger_args)
    )
    output = build_output(ModbusOutputConfig(host="127.0.0.1", port=plc.port, ack_timeout_s=5))
    return trigger, output


def test_modbus_full_handshake_with_part_id_recipe_and_heartbeat() -> None:
    with modbus_plc() as plc:
        trigger, output = _modbus_pair(plc)
        trigger.setup()
        output.setup()
        try:
            assert trigger.wait(threading.Event(), 0.05) is None  # trigger low: nothing
            plc.request("LOT7-00042", 3)
            event = _event(trigger)
            assert event is not None and event.capture_type == "modbus"
            assert event.detail == {"part_id": "LOT7-00042", "recipe": 3}
            # The station answers; the PLC reads the result once done is up, then drops its trigger.
            thread, errors = _in_background(lambda: output.emit(DEFECT))
            assert _until(lambda: plc.read(DONE) == [1])
            assert plc.read(VERDICT) == [2] and plc.read(RESULT_CODE) == [0]
            assert plc.score() == pytest.approx(0.875)
            plc.write(TRIGGER, [0])
            thread.join(10)
            assert not errors and plc.read(DONE) == [0]  # the station dropped done: handshake complete
            beat = plc.read(HEARTBEAT)[0]
            trigger.wait(threading.Event(), 0.2)
            assert plc.read(HEARTBEAT)[0] != beat  # the heartbeat keeps counting
            plc.request("LOT7-00043", 3)  # the next part: a new rising edge
            assert _event(trigger) is not None
        finally:
            trigger.teardown()
            output.teardown()


def test_modbus_timeouts_answer_the_line() -> None:
    """No result in time: the trigger answers result code 2 + done. No acknowledgement from the PLC:
    the output drops done and reports the delivery as failed."""
    with modbus_plc() as plc:
        trigger, _ = _modbus_pair(plc, result_timeout_s=0.2)
        output = build_output(ModbusOutputConfig(host="127.0.0.1", port=plc.port, ack_timeout_s=0.2))
        trigger.setup()
        output.setup()
        try:
            trigger.wait(threading.Event(), 0.05)
            plc.request("P-1", 0)
            assert _event(trigger) is not None
            trigger.wait(threading.Event(), 0.5)  # the capture failed: no result comes
            assert plc.read(RESULT_CODE) == [2] and plc.read(DONE) == [1]
            plc.write(DONE, [0])
            with pytest.raises(Unavailable, match="did not drop its trigger"):
                output.emit(GOOD)  # the PLC keeps its trigger up
            assert plc.read(DONE) == [0] and plc.read(VERDICT) == [1]
        finally:
            trigger.teardown()
            output.teardown()


def test_modbus_a_failed_capture_is_answered_with_code_1_at_once() -> None:
    """The capture failed: the PLC gets result code 1 and no verdict (0, not the last part's) right
    away, long before the result timeout; done drops once the PLC drops its trigger."""
    with modbus_plc() as plc:
        trigger, output = _modbus_pair(plc, result_timeout_s=60)
        trigger.setup()
        output.setup()
        try:
            trigger.wait(threading.Event(), 0.05)
            plc.request("P-1", 0)
            event = _event(trigger)
            assert event is not None
            thread, errors = _in_background(lambda: output.emit(GOOD))  # the part before: verdict 1
            assert _until(lambda: plc.read(DONE) == [1])
            plc.write(TRIGGER, [0])
            thread.join(10)
            assert not errors and plc.read(VERDICT) == [1]
            trigger.wait(threading.Event(), 0.05)
            plc.request("P-2", 0)
            event = _event(trigger)
            assert event is not None
            started = time.monotonic()
            trigger.capture_failed(event, "no image from the camera")  # as the runner reports it
            assert plc.read(RESULT_CODE) == [1] and plc.read(VERDICT) == [0] and plc.read(DONE) == [1]
            assert time.monotonic() - started < 5  # at once, not after result_timeout_s (60 s)
            plc.write(TRIGGER, [0])
            assert trigger.wait(threading.Event(), 0.1) is None
            assert plc.read(DONE) == [0]  # the station dropped done: ready for the next part
            trigger.capture_failed(event, "late")  # already answered: nothing written twice
            assert plc.read(DONE) == [0]
        finally:
            trigger.teardown()
            output.teardown()


def test_modbus_plc_drops_the_connection_mid_handshake() -> None:
    plc = ModbusPlc()
    plc.start()
    trigger, output = _modbus_pair(plc, reconnect_s=0.05)
    try:
        trigger.setup()
        output.setup()
        trigger.wait(threading.Event(), 0.05)
        plc.request("P-9", 1)
        assert _event(trigger) is not None
        plc.stop()  # the PLC goes away before the station answers
        with pytest.raises(Unavailable, match="PLC handshake failed"):
            output.emit(DEFECT)
        assert trigger.wait(threading.Event(), 0.2) is None  # connection lost: no event, no crash
        assert isinstance(trigger, HandshakeTrigger) and not trigger._connected
        plc.start()  # back on the same port, memory cleared like a PLC restart
        plc.request("P-9", 1)  # the trigger was high before the station saw it: not a new edge
        assert trigger.wait(threading.Event(), 0.5) is None
        assert trigger._connected
        plc.write(TRIGGER, [0])
        trigger.wait(threading.Event(), 0.1)
        plc.request("P-10", 1)
        event = _event(trigger)
        assert event is not None and event.detail["part_id"] == "P-10"
        thread, errors = _in_background(lambda: output.emit(GOOD))  # the output reconnects by itself
        assert _until(lambda: plc.read(DONE) == [1])
        plc.write(TRIGGER, [0])
        thread.join(10)
        assert not errors and plc.read(VERDICT) == [1]
    finally:
        trigger.teardown()
        output.teardown()
        plc.stop()


def _opcua_pair(plc: OpcUaPlc) -> tuple[Any, Any]:
    node = plc.node_id
    trigger = build_trigger(
        OpcUaTriggerConfig(
            url=plc.url,
            trigger=node("Trigger"),
            part_id=node("PartId"),
            recipe=node("Recipe"),
            heartbeat=node("Heartbeat"),
            verdict=node("Verdict"),
            result_code=node("ResultCode"),
            done=node("Done"),
            poll_ms=5,
            heartbeat_s=0.05,
            reconnect_s=0.1,
        )
    )
    output = build_output(
        OpcUaOutputConfig(
            url=plc.url,
            verdict=node("Verdict"),
            result_code=node("ResultCode"),
            score=node("Score"),
            done=node("Done"),
            trigger=node("Trigger"),
        )
    )
    return trigger, output


@pytest.mark.slow
def test_opcua_full_handshake_and_a_dropped_connection() -> None:
    with opcua_plc() as plc:
        trigger, output = _opcua_pair(plc)
        trigger.setup()
        output.setup()
        try:
            trigger.wait(threading.Event(), 0.05)
            plc.request("SN-123", 2)
            event = _event(trigger)
            assert event is not None and event.detail == {"part_id": "SN-123", "recipe": 2}
            thread, errors = _in_background(lambda: output.emit(DEFECT))
            assert _until(lambda: plc.read("Done") is True)
            assert plc.read("Verdict") == 2 and plc.read("ResultCode") == 0
            assert plc.read("Score") == pytest.approx(0.875)
            plc.write("Trigger", False)
            thread.join(10)
            assert not errors and plc.read("Done") is False
            assert plc.read("Heartbeat") > 0
            trigger.wait(threading.Event(), 0.05)  # the trigger sees it low before the next part
            plc.request("SN-124", 2)
            failed = _event(trigger)
            assert failed is not None
            trigger.capture_failed(failed, "unknown recipe")  # answered at once with result code 1
            assert plc.read("ResultCode") == 1 and plc.read("Verdict") == 0 and plc.read("Done") is True
            plc.write("Trigger", False)
            assert _until(lambda: trigger.wait(threading.Event(), 0.02) is None and plc.read("Done") is False)
            plc.request("SN-125", 2)
            assert _event(trigger) is not None
            plc.stop()  # the PLC drops the connection mid-handshake
            with pytest.raises(Unavailable):
                output.emit(GOOD)
            assert trigger.wait(threading.Event(), 0.3) is None
        finally:
            trigger.teardown()
            output.teardown()
