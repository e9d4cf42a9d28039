"""Output plugins: configs in one discriminated union, implementations behind one Protocol."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dda.station.netsafe import OutboundAllowList
from dda.station.plugins.family import build_plugin, plugin_table
from dda.station.plugins.outputs.base import OutputConfigBase, OutputPlugin, ResultEvent
from dda.station.plugins.outputs.digital_output import DigitalOutput, DigitalOutputConfig
from dda.station.plugins.outputs.mqtt import MqttOutput, MqttOutputConfig
from dda.station.plugins.outputs.plc import ModbusOutput, ModbusOutputConfig, OpcUaOutput, OpcUaOutputConfig
from dda.station.plugins.outputs.webhook import WebhookOutput, WebhookOutputConfig

OutputConfig = Annotated[
    DigitalOutputConfig | WebhookOutputConfig | MqttOutputConfig | ModbusOutputConfig | OpcUaOutputConfig,
    Field(discriminator="type"),
]

OUTPUT_PLUGINS: dict[str, tuple[type[OutputConfigBase], type]] = plugin_table(
    (DigitalOutputConfig, DigitalOutput),
    (WebhookOutputConfig, WebhookOutput),
    (MqttOutputConfig, MqttOutput),
    (ModbusOutputConfig, ModbusOutput),
    (OpcUaOutputConfig, OpcUaOutput),
)


def build_output(config: OutputConfigBase, outbound: OutboundAllowList | None = None) -> OutputPlugin:
    """The implementation for a validated config (not started yet). Outputs that reach out over
    HTTP check their targets against ``outbound``, the station's admin-owned allow-list."""
    plugin: OutputPlugin = build_plugin(OUTPUT_PLUGINS, config)
    if outbound is not None and isinstance(plugin, WebhookOutput):
        plugin.outbound = outbound
    return plugin


__all__ = [
    "OUTPUT_PLUGINS",
    "OutputConfig",
    "OutputConfigBase",
    "OutputPlugin",
    "ResultEvent",
    "build_output",
]
