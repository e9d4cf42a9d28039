"""OPC UA (asyncua, its synchronous client): the PLC handshake over variables named by node id.

Each tag is a node id string (``ns=2;s=Line1.Trigger``); a tag left empty (null) is not used.
Values are written with the variable's own data type (read once per node), so an Int16 verdict or
a Float score on the PLC side both work.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pydantic import BaseModel, Field

from dda.core.errors import Unavailable

NodeId = str | None


def node_field(description: str) -> Any:
    return Field(None, min_length=1, max_length=256, description=description)


class OpcUaConnection(BaseModel):
    url: str = Field(
        ..., pattern=r"^opc\.tcp://[^\s]+$", max_length=512, description="opc.tcp://host:port/path"
    )
    timeout_s: float = Field(4.0, gt=0, le=60)


class OpcUaTags:
    def __init__(self, config: OpcUaConnection, tags: dict[str, str | None]) -> None:
        self.config = config
        self._tags = {name: node for name, node in tags.items() if node}
        self._client: Any = None
        self._nodes: dict[str, Any] = {}
        self._types: dict[str, Any] = {}

    def connect(self) -> None:
        from asyncua.sync import Client

        self.close()
        client = Client(self.config.url, timeout=self.config.timeout_s)
        try:
            client.connect()
        except Exception as exc:
            _quiet_disconnect(client)
            raise Unavailable(f"no OPC UA server at the configured URL: {exc}") from exc
        self._client = client

    def close(self) -> None:
        client, self._client = self._client, None
        self._nodes.clear()
        self._types.clear()
        if client is not None:
            _quiet_disconnect(client)

    def has(self, tag: str) -> bool:
        return tag in self._tags

    def _node(self, tag: str) -> Any:
        if self._client is None:
            raise Unavailable("not connected to the PLC")
        if tag not in self._nodes:
            self._nodes[tag] = self._client.get_node(self._tags[tag])
        return self._nodes[tag]

    def _read(self, tag: str) -> Any:
        return self._node(tag).read_value()

    def _write(self, tag: str, value: Any) -> None:
        from asyncua import ua

        node = self._node(tag)
        if tag not in self._types:
            self._types[tag] = node.read_data_type_as_variant_type()
        node.write_value(ua.DataValue(ua.Variant(value, self._types[tag])))

    def read_flag(self, tag: str) -> bool:
        return bool(self._read(tag))

    def read_int(self, tag: str) -> int:
        return int(self._read(tag))

    def read_text(self, tag: str) -> str:
        value = self._read(tag)
        return "" if value is None else str(value).strip()

    def write_int(self, tag: str, value: int) -> None:
        self._write(tag, int(value))

    def write_float(self, tag: str, value: float) -> None:
        self._write(tag, float(value))

    def write_flag(self, tag: str, value: bool) -> None:
        self._write(tag, bool(value))


def _quiet_disconnect(client: Any) -> None:
    with contextlib.suppress(Exception):  # the server is gone: the client's thread stops all the same
        client.disconnect()
