"""MQTT: a message on a topic triggers a capture."""

from __future__ import annotations

import queue
import threading
from typing import Any, Literal

from pydantic import Field

from dda.station.mqtt import MqttConnection, MqttSettings
from dda.station.plugins.triggers.base import TriggerConfigBase, TriggerEvent

MAX_PAYLOAD_IN_EVENT = 1024


class MqttTriggerConfig(TriggerConfigBase, MqttSettings):
    title = "MQTT message"
    type: Literal["mqtt"] = "mqtt"
    topic: str = Field(..., min_length=1, max_length=256, description="Topic filter (wildcards allowed)")
    qos: Literal[0, 1, 2] = 1


class MqttTrigger:
    latest_frame_only = False

    def __init__(self, config: MqttTriggerConfig) -> None:
        self.config = config
        self._messages: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=256)
        self._connection: MqttConnection | None = None

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            text = payload[:MAX_PAYLOAD_IN_EVENT].decode("utf-8", errors="replace")
            self._messages.put_nowait({"topic": topic, "payload": text})
        except queue.Full:
            pass  # a flood of trigger messages: captures are already back to back

    def setup(self) -> None:
        self._connection = MqttConnection(self.config, client_suffix="trigger")
        self._connection.connect()
        self._connection.subscribe(self.config.topic, self.config.qos, self._on_message)

    def wait(self, stop: threading.Event, timeout_s: float) -> TriggerEvent | None:
        try:
            detail = self._messages.get(timeout=timeout_s)
        except queue.Empty:
            return None
        return None if stop.is_set() else TriggerEvent("mqtt", detail)

    def teardown(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
