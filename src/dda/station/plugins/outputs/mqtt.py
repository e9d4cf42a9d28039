"""MQTT publish: each matching result as JSON on a topic."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dda.station.mqtt import MqttConnection, MqttSettings
from dda.station.plugins.outputs.base import OutputConfigBase, ResultEvent, Rule


class MqttOutputConfig(OutputConfigBase, MqttSettings):
    title = "MQTT publish"
    type: Literal["mqtt"] = "mqtt"
    topic: str = Field(..., min_length=1, max_length=256, description="Topic (no wildcards)")
    qos: Literal[0, 1, 2] = 1
    retain: bool = False
    rule: Rule = "all"
    timeout_s: float = Field(5.0, gt=0, le=60)


class MqttOutput:
    def __init__(self, config: MqttOutputConfig) -> None:
        if "+" in config.topic or "#" in config.topic:
            raise ValueError("an MQTT publish topic cannot contain wildcards")
        self.config = config
        self._connection: MqttConnection | None = None

    def setup(self) -> None:
        self._connection = MqttConnection(self.config, client_suffix="output")
        self._connection.connect()

    def emit(self, event: ResultEvent) -> None:
        if self._connection is None or not event.matches(self.config.rule):
            return
        self._connection.publish(
            self.config.topic, event.to_json(), self.config.qos, self.config.retain, self.config.timeout_s
        )

    def teardown(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
