"""One MQTT connection helper for the MQTT trigger and the MQTT output (paho-mqtt 2)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, SecretStr

from dda.core.errors import Unavailable

CONNECT_TIMEOUT_S = 10.0


class MqttSettings(BaseModel):
    """Broker connection fields shared by MQTT plugins."""

    host: str = Field("127.0.0.1", min_length=1, description="Broker host")
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    keepalive_s: int = Field(30, ge=5, le=3600)


class MqttConnection:
    """A connected paho client running its network loop in a background thread."""

    def __init__(self, settings: MqttSettings, client_suffix: str) -> None:
        import paho.mqtt.client as mqtt

        self.settings = settings
        self._connected = threading.Event()
        self._reason: str = ""
        self._handlers: list[tuple[str, Callable[[str, bytes], None]]] = []
        from paho.mqtt.enums import CallbackAPIVersion

        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"dda-station-{client_suffix}-{uuid.uuid4().hex[:8]}"
        )
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else None
            self._client.username_pw_set(settings.username, password)
        if settings.tls:
            self._client.tls_set()
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._reason = str(reason)
        if not reason.is_failure:
            for topic, _ in self._handlers:  # re-subscribe after a reconnect
                client.subscribe(topic)
            self._connected.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        import paho.mqtt.client as mqtt

        for topic_filter, handler in self._handlers:
            if mqtt.topic_matches_sub(topic_filter, message.topic):
                handler(message.topic, bytes(message.payload))

    def connect(self) -> None:
        where = f"{self.settings.host}:{self.settings.port}"
        try:
            self._client.connect(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s)
        except OSError as exc:
            raise Unavailable(
                f"cannot reach the MQTT broker at {where}: {exc}",
                hint="check the broker runs and host/port are right",
            ) from exc
        self._client.loop_start()
        if not self._connected.wait(CONNECT_TIMEOUT_S):
            self.close()
            raise Unavailable(
                f"the MQTT broker at {where} refused the connection ({self._reason or 'timeout'})",
                hint="check username/password and the broker's ACLs",
            )

    def subscribe(self, topic: str, qos: int, handler: Callable[[str, bytes], None]) -> None:
        self._handlers.append((topic, handler))
        result, _ = self._client.subscribe(topic, qos)
        if result != 0:
            raise Unavailable(f"MQTT subscribe to {topic!r} failed (code {result})", hint="check the topic")

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool, timeout_s: float) -> None:
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=timeout_s)
        if not info.is_published():
            raise Unavailable(
                f"MQTT publish to {topic!r} was not confirmed within {timeout_s} s",
                hint="check the broker connection",
            )

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
