"""Modbus TCP (pymodbus): the PLC handshake over holding registers.

Every tag is a holding register address (0-based, as on the wire): flags are 0/1 registers (most
PLCs map a data block to holding registers), the part id is ASCII over ``part_id_length``
registers (two characters each), the score a float32 over two registers (big-endian words).
A tag left empty (null) is not used.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from dda.core.errors import Unavailable

Register = int | None


def register_field(description: str, default: int | None = None) -> Any:
    return Field(default, ge=0, le=65_534, description=description)


class ModbusConnection(BaseModel):
    host: str = Field(..., min_length=1, max_length=255, description="PLC address")
    port: int = Field(502, ge=1, le=65535)
    device_id: int = Field(1, ge=0, le=255, description="Unit / device id")
    timeout_s: float = Field(2.0, gt=0, le=60)


class ModbusTags:
    """Tags on holding registers of one Modbus TCP server."""

    def __init__(self, config: ModbusConnection, tags: dict[str, int | None]) -> None:
        self.config = config
        self._tags = {name: address for name, address in tags.items() if address is not None}
        self._length = getattr(config, "part_id_length", 1)
        self._client: Any = None

    def connect(self) -> None:
        from pymodbus.client import ModbusTcpClient

        self.close()
        client = ModbusTcpClient(
            self.config.host, port=self.config.port, timeout=self.config.timeout_s, retries=0
        )
        if not client.connect():  # type: ignore[no-untyped-call]
            client.close()  # type: ignore[no-untyped-call]
            raise Unavailable(f"no Modbus server at {self.config.host}:{self.config.port}")
        self._client = client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def has(self, tag: str) -> bool:
        return tag in self._tags

    def _checked(self, response: Any) -> Any:
        if response.isError():
            raise Unavailable(f"the PLC refused a Modbus request: {response}")
        return response

    def _read(self, tag: str, count: int) -> list[int]:
        if self._client is None:
            raise Unavailable("not connected to the PLC")
        response = self._client.read_holding_registers(
            self._tags[tag], count=count, device_id=self.config.device_id
        )
        registers: list[int] = self._checked(response).registers
        return registers

    def _write(self, tag: str, registers: list[int]) -> None:
        if self._client is None:
            raise Unavailable("not connected to the PLC")
        self._checked(
            self._client.write_registers(self._tags[tag], registers, device_id=self.config.device_id)
        )

    def read_flag(self, tag: str) -> bool:
        return self._read(tag, 1)[0] != 0

    def read_int(self, tag: str) -> int:
        return self._read(tag, 1)[0]

    def read_text(self, tag: str) -> str:
        raw = b"".join(r.to_bytes(2, "big") for r in self._read(tag, self._length))
        return raw.split(b"\x00", 1)[0].decode("ascii", errors="replace").strip()

    def write_int(self, tag: str, value: int) -> None:
        self._write(tag, [int(value) & 0xFFFF])

    def write_float(self, tag: str, value: float) -> None:
        from pymodbus.client import ModbusTcpClient

        self._write(tag, ModbusTcpClient.convert_to_registers(float(value), ModbusTcpClient.DATATYPE.FLOAT32))

    def write_flag(self, tag: str, value: bool) -> None:
        self._write(tag, [1 if value else 0])
