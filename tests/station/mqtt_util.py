"""The local Mosquitto broker (127.0.0.1:1883) for MQTT plugin tests."""

from __future__ import annotations

import socket
import uuid

import pytest

BROKER = ("127.0.0.1", 1883)


def require_broker() -> None:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return
    except OSError:
        pytest.skip("no MQTT broker on 127.0.0.1:1883; start Mosquitto (scripts/services.sh)")


def unique_topic(prefix: str) -> str:
    return f"dda-test/{prefix}/{uuid.uuid4().hex}"
