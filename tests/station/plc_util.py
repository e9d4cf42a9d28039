"""Real PLC protocol servers on loopback for the PLC plugin tests: pymodbus' Modbus TCP server and
an asyncua OPC UA server, each on its own event-loop thread, plus a "PLC program" client that
drives the handshake from the PLC's side through the same protocol."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.procs import free_port

# The Modbus register map the tests use (the plugin configs' defaults).
TRIGGER, VERDICT, RESULT_CODE, SCORE, DONE, PART_ID, RECIPE, HEARTBEAT = 0, 20, 21, 22, 24, 10, 30, 40


class LoopThread:
    """An asyncio loop on a daemon thread running ``main(ready, stop)`` until stopped."""

    def __init__(self, main: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(main,), daemon=True)
        self._thread.start()
        if not self._ready.wait(120):  # asyncua's server set-up is slow on a loaded machine
            raise RuntimeError(f"test server did not start: {self._error}")

    def _run(self, main: Any) -> None:
        asyncio.set_event_loop(self.loop)

        async def runner() -> None:
            self._stop = asyncio.Event()
            await main(self._ready, self._stop)

        try:
            self.loop.run_until_complete(runner())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


class ModbusPlc:
    """A Modbus TCP server (holding registers 0..99) and a client acting as the PLC's program."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server: LoopThread | None = None
        self.client: Any = None

    def start(self) -> None:
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        port = self.port

        async def main(ready: threading.Event, stop: asyncio.Event) -> None:
            registers = SimData(address=0, count=100, values=0, datatype=DataType.REGISTERS)
            device = SimDevice(id=1, simdata=[registers])
            server = ModbusTcpServer(device, address=("127.0.0.1", port))
            await server.listen()
            ready.set()
            await stop.wait()
            await server.shutdown()

        self.server = LoopThread(main)

    def stop(self) -> None:
        """The PLC goes away: the server closes every connection."""
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _plc(self) -> Any:
        from pymodbus.client import ModbusTcpClient

        if self.client is None:
            self.client = ModbusTcpClient("127.0.0.1", port=self.port, timeout=2, retries=1)
            assert self.client.connect()
        return self.client

    def read(self, address: int, count: int = 1) -> list[int]:
        registers: list[int] = self._plc().read_holding_registers(address, count=count, device_id=1).registers
        return registers

    def write(self, address: int, values: list[int]) -> None:
        assert not self._plc().write_registers(address, values, device_id=1).isError()

    def score(self) -> float:
        from pymodbus.client import ModbusTcpClient

        value = ModbusTcpClient.convert_from_registers(self.read(SCORE, 2), ModbusTcpClient.DATATYPE.FLOAT32)
        return float(value)  # type: ignore[arg-type]

    def request(self, part_id: str, recipe: int) -> None:
        """The PLC program: part id and recipe first, then the trigger."""
        raw = part_id.encode().ljust(20, b"\x00")
        self.write(PART_ID, [int.from_bytes(raw[i : i + 2], "big") for i in range(0, 20, 2)])
        self.write(RECIPE, [recipe])
        self.write(TRIGGER, [1])


@contextmanager
def modbus_plc() -> Iterator[ModbusPlc]:
    plc = ModbusPlc()
    plc.start()
    try:
        yield plc
    finally:
        plc.stop()


OPC_TAGS: dict[str, Any] = {
    "Trigger": False,
    "PartId": "",
    "Recipe": 0,
    "Heartbeat": 0,
    "Verdict": 0,
    "ResultCode": 0,
    "Score": 0.0,
    "Done": False,
}


class OpcUaPlc:
    """An asyncua server with a Line1 object of writable variables (``ns=2;s=Line1.<Tag>``)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"opc.tcp://127.0.0.1:{self.port}/dda/"
        self.server: LoopThread | None = None
        self.nodes: dict[str, Any] = {}

    def node_id(self, tag: str) -> str:
        return f"ns=2;s=Line1.{tag}"

    def start(self) -> None:
        from asyncua import Server, ua

        async def main(ready: threading.Event, stop: asyncio.Event) -> None:
            server = Server()
            await server.init()
            server.set_endpoint(self.url)
            index = await server.register_namespace("urn:dda:test-plc")
            line = await server.nodes.objects.add_object(ua.NodeId("Line1", index), "Line1")
            for name, value in OPC_TAGS.items():
                integer = isinstance(value, int) and not isinstance(value, bool)
                variant = ua.VariantType.Int16 if integer else None
                node = await line.add_variable(ua.NodeId(f"Line1.{name}", index), name, value, variant)
                await node.set_writable()
                self.nodes[name] = node
            async with server:
                ready.set()
                await stop.wait()

        self.server = LoopThread(main)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def read(self, tag: str) -> Any:
        assert self.server is not None
        return asyncio.run_coroutine_threadsafe(self.nodes[tag].read_value(), self.server.loop).result(10)

    def write(self, tag: str, value: Any) -> None:
        from asyncua import ua

        assert self.server is not None
        node = self.nodes[tag]

        async def write() -> None:
            variant = await node.read_data_type_as_variant_type()
            await node.write_value(ua.DataValue(ua.Variant(value, variant)))

        asyncio.run_coroutine_threadsafe(write(), self.server.loop).result(10)

    def request(self, part_id: str, recipe: int) -> None:
        self.write("PartId", part_id)
        self.write("Recipe", recipe)
        self.write("Trigger", True)


@contextmanager
def opcua_plc() -> Iterator[OpcUaPlc]:
    plc = OpcUaPlc()
    plc.start()
    try:
        yield plc
    finally:
        plc.stop()
