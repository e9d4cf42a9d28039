"""Every trigger plugin against the one TriggerPlugin contract.

The digital input runs on a simulated GPIO chip (``sim:<name>``) behind the same line interface
the libgpiod implementation has, because no GPIO hardware exists here. MQTT uses the real local
Mosquitto broker.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import paho.mqtt.publish as mqtt_publish
import pytest

from dda.station.plugins.gpio import simulated_chip
from dda.station.plugins.triggers import TRIGGER_PLUGINS, TriggerEvent, TriggerPlugin, build_trigger
from dda.station.plugins.triggers.digital_input import DigitalInputTriggerConfig
from dda.station.plugins.triggers.mqtt import MqttTriggerConfig
from dda.station.plugins.triggers.plc import ModbusTriggerConfig, OpcUaTriggerConfig
from dda.station.plugins.triggers.simple import (
    ContinuousTriggerConfig,
    ManualTrigger,
    ManualTriggerConfig,
    TimerTriggerConfig,
)
from tests.station.mqtt_util import BROKER, require_broker, unique_topic
from tests.station.plc_util import TRIGGER, ModbusPlc, OpcUaPlc

Case = tuple[TriggerPlugin, Callable[[], None], bool]  # plugin, fire, quiet until fired


def _manual() -> Case:
    trigger = build_trigger(ManualTriggerConfig())
    assert isinstance(trigger, ManualTrigger)
    return trigger, lambda: trigger.fire(by="test"), True


def _digital() -> Case:
    name = f"t-{uuid.uuid4().hex[:8]}"
    trigger = build_trigger(DigitalInputTriggerConfig(chip=f"sim:{name}", line=4, debounce_ms=0))
    return trigger, lambda: simulated_chip(name).pulse(4), True


def _mqtt() -> Case:
    require_broker()
    topic = unique_topic("trigger")
    trigger = build_trigger(MqttTriggerConfig(topic=topic))
    return trigger, lambda: mqtt_publish.single(topic, b"go", qos=1, hostname=BROKER[0], port=BROKER[1]), True


_PLCS: list[ModbusPlc | OpcUaPlc] = []


@pytest.fixture(autouse=True, scope="module")
def _stop_plcs() -> Iterator[None]:
    yield
    for plc in _PLCS:
        plc.stop()


def _modbus() -> Case:
    plc = ModbusPlc()
    plc.start()
    _PLCS.append(plc)
    plc.write(TRIGGER, [0])
    trigger = build_trigger(ModbusTriggerConfig(host="127.0.0.1", port=plc.port, poll_ms=5))
    return trigger, lambda: plc.request("P-1", 1), True


def _opcua() -> Case:
    plc = OpcUaPlc()
    plc.start()
    _PLCS.append(plc)
    trigger = build_trigger(OpcUaTriggerConfig(url=plc.url, trigger=plc.node_id("Trigger"), poll_ms=5))
    return trigger, lambda: plc.request("P-1", 1), True


CASES: dict[str, Callable[[], Case]] = {
    "manual": _manual,
    "digital_input": _digital,
    "timer": lambda: (build_trigger(TimerTriggerConfig(interval_s=0.05)), lambda: None, False),
    "continuous": lambda: (build_trigger(ContinuousTriggerConfig()), lambda: None, False),
    "mqtt": _mqtt,
    "modbus": _modbus,
    "opcua": _opcua,
}


def test_every_registered_trigger_has_a_conformance_case() -> None:
    assert set(CASES) == set(TRIGGER_PLUGINS)


def _wait_for_event(trigger: TriggerPlugin, stop: threading.Event, timeout_s: float) -> TriggerEvent | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        event = trigger.wait(stop, 0.2)
        if event is not None:
            return event
    return None


@pytest.mark.parametrize("kind", sorted(TRIGGER_PLUGINS))
def test_trigger_contract(kind: str) -> None:
    trigger, fire, quiet = CASES[kind]()
    assert isinstance(trigger, TriggerPlugin) and isinstance(trigger.latest_frame_only, bool)
    stop = threading.Event()
    trigger.setup()
    try:
        if quiet:
            assert trigger.wait(stop, 0.1) is None  # nothing happened: no event
        fire()
        event = _wait_for_event(trigger, stop, 10)
        assert isinstance(event, TriggerEvent) and event.capture_type == kind
        stop.set()
        started = time.monotonic()
        fire()
        assert trigger.wait(stop, 2.0) is None  # once stopped, no more captures
        assert time.monotonic() - started < 2.5
    finally:
        trigger.teardown()


def test_digital_input_edges_and_debounce() -> None:
    """Simulated chip: rising vs falling edge, and bounces within debounce_ms are ignored."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    chip = simulated_chip(name)
    stop = threading.Event()
    falling = build_trigger(
        DigitalInputTriggerConfig(chip=f"sim:{name}", line=1, edge="falling", debounce_ms=0)
    )
    falling.setup()
    chip.drive(1, True)
    assert falling.wait(stop, 0.1) is None  # a rising edge does not fire a falling trigger
    chip.drive(1, False)
    assert falling.wait(stop, 1.0) is not None
    falling.teardown()

    bouncy = build_trigger(DigitalInputTriggerConfig(chip=f"sim:{name}", line=2, debounce_ms=10_000))
    bouncy.setup()
    fired = 0
    for _ in range(5):  # a contact bouncing: five edges in quick succession
        chip.pulse(2)
        fired += bouncy.wait(stop, 0.2) is not None
    bouncy.teardown()
    assert fired == 1


def test_mqtt_trigger_carries_topic_and_payload() -> None:
    require_broker()
    topic = unique_topic("payload")
    trigger = build_trigger(MqttTriggerConfig(topic=f"{topic}/+"))
    trigger.setup()
    try:
        mqtt_publish.single(f"{topic}/line7", b'{"part": 42}', qos=1, hostname=BROKER[0], port=BROKER[1])
        event = _wait_for_event(trigger, threading.Event(), 10)
    finally:
        trigger.teardown()
    assert event is not None and event.detail == {"topic": f"{topic}/line7", "payload": '{"part": 42}'}


def test_timer_skips_missed_ticks_instead_of_bursting() -> None:
    trigger = build_trigger(TimerTriggerConfig(interval_s=0.02))
    trigger.setup()
    time.sleep(0.2)  # a long capture: about nine ticks missed
    event = trigger.wait(threading.Event(), 0.01)
    assert event is not None and event.detail["skipped_ticks"] >= 5
    assert trigger.wait(threading.Event(), 0.001) is None  # not a burst of queued ticks
