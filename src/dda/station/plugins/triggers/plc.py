"""PLC triggers: the PLC raises a trigger tag (Modbus TCP register or OPC UA node) and writes the
part id and recipe number; see :mod:`dda.station.plugins.plc.handshake` for the whole exchange."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dda.station.plugins.plc.handshake import HandshakeTrigger, TriggerTiming
from dda.station.plugins.plc.modbus import ModbusConnection, ModbusTags, Register
from dda.station.plugins.plc.modbus import register_field as _register
from dda.station.plugins.plc.opcua import NodeId, OpcUaConnection, OpcUaTags
from dda.station.plugins.plc.opcua import node_field as _node
from dda.station.plugins.triggers.base import TriggerConfigBase


class ModbusTriggerConfig(TriggerConfigBase, ModbusConnection, TriggerTiming):
    title = "PLC trigger (Modbus TCP)"
    type: Literal["modbus"] = "modbus"
    trigger: int = _register("Holding register the PLC raises to 1 to trigger", 0)
    part_id: Register = _register("First register of the part id (ASCII)", 10)
    part_id_length: int = Field(10, ge=1, le=60, description="Registers of the part id (2 chars each)")
    recipe: Register = _register("Register holding the recipe number", 30)
    heartbeat: Register = _register("Register the station increments every heartbeat_s", 40)
    verdict: Register = _register("Verdict register (0 written with an error or timeout answer)", 20)
    result_code: Register = _register("Result code register (1 capture failed, 2 handshake timeout)", 21)
    done: Register = _register("Done register (raised with an error or timeout answer)", 24)


class OpcUaTriggerConfig(TriggerConfigBase, OpcUaConnection, TriggerTiming):
    title = "PLC trigger (OPC UA)"
    type: Literal["opcua"] = "opcua"
    trigger: str = Field(..., min_length=1, max_length=256, description="Boolean node the PLC raises")
    part_id: NodeId = _node("String node with the part id")
    recipe: NodeId = _node("Integer node with the recipe number")
    heartbeat: NodeId = _node("Integer node the station increments every heartbeat_s")
    verdict: NodeId = _node("Verdict node (0 written with an error or timeout answer)")
    result_code: NodeId = _node("Result code node (1 capture failed, 2 handshake timeout)")
    done: NodeId = _node("Done node (raised with an error or timeout answer)")


class ModbusTrigger(HandshakeTrigger):
    def __init__(self, config: ModbusTriggerConfig) -> None:
        tags = {
            "trigger": config.trigger,
            "part_id": config.part_id,
            "recipe": config.recipe,
            "heartbeat": config.heartbeat,
            "verdict": config.verdict,
            "result_code": config.result_code,
            "done": config.done,
        }
        super().__init__(ModbusTags(config, tags), config, "modbus")
        self.config = config


class OpcUaTrigger(HandshakeTrigger):
    def __init__(self, config: OpcUaTriggerConfig) -> None:
        tags = {
            "trigger": config.trigger,
            "part_id": config.part_id,
            "recipe": config.recipe,
            "heartbeat": config.heartbeat,
            "verdict": config.verdict,
            "result_code": config.result_code,
            "done": config.done,
        }
        super().__init__(OpcUaTags(config, tags), config, "opcua")
        self.config = config
