"""Every output plugin against the one OutputPlugin contract.

Webhook: a real HTTP server on 127.0.0.1 (so 127.0.0.1 on the outbound allow-list). MQTT: the real local
Mosquitto, read back by a subscriber. Digital output: a simulated GPIO chip behind the same line
interface as libgpiod, because no GPIO hardware exists here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from dda.core.errors import Unavailable
from dda.station.netsafe import OutboundAllowList
from dda.station.plugins.gpio import simulated_chip
from dda.station.plugins.outputs import OUTPUT_PLUGINS, OutputPlugin, ResultEvent, build_output
from dda.station.plugins.outputs.digital_output import DigitalOutputConfig
from dda.station.plugins.outputs.mqtt import MqttOutputConfig
from dda.station.plugins.outputs.plc import ModbusOutputConfig, OpcUaOutputConfig
from dda.station.plugins.outputs.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookOutputConfig
from tests.station.http_util import Recorder, recording_server
from tests.station.mqtt_util import BROKER, require_broker, unique_topic
from tests.station.plc_util import DONE, VERDICT, modbus_plc, opcua_plc

ANOMALY = ResultEvent({"result_id": 7, "prediction": "anomaly", "confidence": 0.93, "workflow": "line-1"})
NORMAL = ResultEvent({"result_id": 8, "prediction": "normal", "confidence": 0.99, "workflow": "line-1"})

LOOPBACK = OutboundAllowList(["127.0.0.1"])  # the receivers here run on loopback

# A case: (plugin for rule "anomaly", read what was delivered -> list of result ids)
Case = tuple[OutputPlugin, Callable[[], list[int]]]


@contextmanager
def _digital() -> Iterator[Case]:
    name = f"o-{uuid.uuid4().hex[:8]}"
    plugin = build_output(DigitalOutputConfig(chip=f"sim:{name}", line=3, rule="anomaly", pulse_ms=20))

    def delivered() -> list[int]:
        writes = [level for _, level in simulated_chip(name).history(3)]
        return [7] * writes.count(True)

    yield plugin, delivered


@contextmanager
def _webhook() -> Iterator[Case]:
    recorder = Recorder()
    with recording_server(recorder) as base:
        plugin = build_output(WebhookOutputConfig(url=f"{base}/hook", rule="anomaly"), LOOPBACK)
        yield plugin, lambda: [json.loads(body)["result_id"] for *_, body in recorder.requests]


@contextmanager
def _mqtt() -> Iterator[Case]:
    require_broker()
    topic = unique_topic("output")
    received: queue.Queue[bytes] = queue.Queue()
    subscribed = queue.Queue[int]()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: received.put(m.payload)
    client.on_subscribe = lambda *a: subscribed.put(1)
    client.connect(*BROKER)
    client.subscribe(topic, qos=1)
    client.loop_start()
    subscribed.get(timeout=10)
    plugin = build_output(MqttOutputConfig(topic=topic, rule="anomaly"))

    def delivered() -> list[int]:
        ids = []
        try:
            while True:
                ids.append(json.loads(received.get(timeout=1.0))["result_id"])
        except queue.Empty:
            return ids

    try:
        yield plugin, delivered
    finally:
        client.loop_stop()
        client.disconnect()


@contextmanager
def _modbus() -> Iterator[Case]:
    """The verdict register reads 2 (defect) once the anomaly was written, and done is dropped again
    (the PLC's trigger is low, so the handshake completes at once)."""
    with modbus_plc() as plc:
        plugin = build_output(ModbusOutputConfig(host="127.0.0.1", port=plc.port, rule="anomaly"))
        yield plugin, lambda: [7] if plc.read(VERDICT) == [2] and plc.read(DONE) == [0] else []


@contextmanager
def _opcua() -> Iterator[Case]:
    with opcua_plc() as plc:
        nodes = {tag: plc.node_id(name) for tag, name in (("verdict", "Verdict"), ("done", "Done"))}
        plugin = build_output(OpcUaOutputConfig(url=plc.url, rule="anomaly", **nodes))
        yield plugin, lambda: [7] if plc.read("Verdict") == 2 and plc.read("Done") is False else []


CASES: dict[str, Callable[[], contextmanager]] = {  # type: ignore[type-arg]
    "digital_output": _digital,
    "webhook": _webhook,
    "mqtt": _mqtt,
    "modbus": _modbus,
    "opcua": _opcua,
}


def test_every_registered_output_has_a_conformance_case() -> None:
    assert set(CASES) == set(OUTPUT_PLUGINS)


@pytest.mark.parametrize("kind", sorted(OUTPUT_PLUGINS))
def test_output_contract(kind: str) -> None:
    with CASES[kind]() as (plugin, delivered):
        assert isinstance(plugin, OutputPlugin)
        plugin.setup()
        try:
            plugin.emit(NORMAL)  # rule "anomaly": not delivered
            plugin.emit(ANOMALY)
        finally:
            plugin.teardown()
        assert delivered() == [7]


def test_digital_output_pulse_width_and_rules() -> None:
    name = f"o-{uuid.uuid4().hex[:8]}"
    chip = simulated_chip(name)
    pulse = build_output(DigitalOutputConfig(chip=f"sim:{name}", line=5, rule="all", pulse_ms=50))
    pulse.setup()
    pulse.emit(NORMAL)
    pulse.teardown()
    writes = chip.history(5)
    assert [level for _, level in writes] == [False, True, False, False]  # idle, pulse, end, release
    assert writes[2][0] - writes[1][0] >= 0.05
    normal_only = build_output(DigitalOutputConfig(chip=f"sim:{name}", line=6, rule="normal"))
    normal_only.setup()
    normal_only.emit(ANOMALY)
    normal_only.teardown()
    assert True not in [level for _, level in chip.history(6)]


def test_webhook_signs_the_body_with_hmac_sha256() -> None:
    recorder = Recorder()
    with recording_server(recorder) as base:
        plugin = build_output(
            WebhookOutputConfig(url=f"{base}/hook", secret="shared-secret"), LOOPBACK
        )
        plugin.setup()
        plugin.emit(ANOMALY)
        plugin.teardown()
    _, path, headers, body = recorder.requests[0]
    expected = hmac.new(b"shared-secret", headers[TIMESTAMP_HEADER].encode() + b"." + body, hashlib.sha256)
    assert path == "/hook" and headers[SIGNATURE_HEADER] == f"sha256={expected.hexdigest()}"
    assert json.loads(body)["prediction"] == "anomaly"


def test_webhook_retries_with_backoff_then_gives_up() -> None:
    recorder = Recorder(statuses=[500, 503])
    with recording_server(recorder) as base:
        plugin = build_output(
            WebhookOutputConfig(url=f"{base}/h", retries=2, backoff_s=0.01), LOOPBACK
        )
        plugin.setup()
        plugin.emit(ANOMALY)  # 500, 503, then 200
        assert len(recorder.requests) == 3
        recorder.statuses.extend([500, 500, 500])
        with pytest.raises(Unavailable) as caught:
            plugin.emit(ANOMALY)
        plugin.teardown()
    assert "after 3 attempts" in caught.value.message
