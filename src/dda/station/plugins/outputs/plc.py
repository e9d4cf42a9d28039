"""PLC outputs: verdict, result code and score written back to the PLC, then a done tag (Modbus
TCP registers or OPC UA nodes); see :mod:`dda.station.plugins.plc.handshake`."""

from __future__ import annotations

from typing import Literal

from dda.station.plugins.outputs.base import OutputConfigBase
from dda.station.plugins.plc.handshake import HandshakeOutput, OutputTiming
from dda.station.plugins.plc.modbus import ModbusConnection, ModbusTags, Register
from dda.station.plugins.plc.modbus import register_field as _register
from dda.station.plugins.plc.opcua import NodeId, OpcUaConnection, OpcUaTags
from dda.station.plugins.plc.opcua import node_field as _node


class ModbusOutputConfig(OutputConfigBase, ModbusConnection, OutputTiming):
    title = "PLC result (Modbus TCP)"
    type: Literal["modbus"] = "modbus"
    verdict: Register = _register("Verdict register: 1 good, 2 defect", 20)
    result_code: Register = _register("Result code register: 0 inspected", 21)
    score: Register = _register("First of two registers of the anomaly score (float32)", 22)
    done: Register = _register("Register raised to 1 when the result is written", 24)
    trigger: Register = _register("The PLC's trigger register (its drop acknowledges done)", 0)


class OpcUaOutputConfig(OutputConfigBase, OpcUaConnection, OutputTiming):
    title = "PLC result (OPC UA)"
    type: Literal["opcua"] = "opcua"
    verdict: NodeId = _node("Integer node: 1 good, 2 defect")
    result_code: NodeId = _node("Integer node: 0 inspected")
    score: NodeId = _node("Float/Double node: the anomaly score")
    done: NodeId = _node("Boolean node raised when the result is written")
    trigger: NodeId = _node("The PLC's trigger node (its drop acknowledges done)")


class ModbusOutput(HandshakeOutput):
    def __init__(self, config: ModbusOutputConfig) -> None:
        tags = {
            "verdict": config.verdict,
            "result_code": config.result_code,
            "score": config.score,
            "done": config.done,
            "trigger": config.trigger,
        }
        super().__init__(ModbusTags(config, tags), config)
        self.config = config


class OpcUaOutput(HandshakeOutput):
    def __init__(self, config: OpcUaOutputConfig) -> None:
        tags = {
            "verdict": config.verdict,
            "result_code": config.result_code,
            "score": config.score,
            "done": config.done,
            "trigger": config.trigger,
        }
        super().__init__(OpcUaTags(config, tags), config)
        self.config = config
