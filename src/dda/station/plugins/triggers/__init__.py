"""Trigger plugins: configs in one discriminated union, implementations behind one Protocol."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dda.station.plugins.family import build_plugin, plugin_table
from dda.station.plugins.triggers.base import ReportsFailures, TriggerConfigBase, TriggerEvent, TriggerPlugin
from dda.station.plugins.triggers.digital_input import DigitalInputTrigger, DigitalInputTriggerConfig
from dda.station.plugins.triggers.mqtt import MqttTrigger, MqttTriggerConfig
from dda.station.plugins.triggers.plc import (
    ModbusTrigger,
    ModbusTriggerConfig,
    OpcUaTrigger,
    OpcUaTriggerConfig,
)
from dda.station.plugins.triggers.simple import (
    ContinuousTrigger,
    ContinuousTriggerConfig,
    ManualTrigger,
    ManualTriggerConfig,
    TimerTrigger,
    TimerTriggerConfig,
)

TriggerConfig = Annotated[
    ManualTriggerConfig
    | DigitalInputTriggerConfig
    | TimerTriggerConfig
    | ContinuousTriggerConfig
    | MqttTriggerConfig
    | ModbusTriggerConfig
    | OpcUaTriggerConfig,
    Field(discriminator="type"),
]

TRIGGER_PLUGINS: dict[str, tuple[type[TriggerConfigBase], type]] = plugin_table(
    (ManualTriggerConfig, ManualTrigger),
    (DigitalInputTriggerConfig, DigitalInputTrigger),
    (TimerTriggerConfig, TimerTrigger),
    (ContinuousTriggerConfig, ContinuousTrigger),
    (MqttTriggerConfig, MqttTrigger),
    (ModbusTriggerConfig, ModbusTrigger),
    (OpcUaTriggerConfig, OpcUaTrigger),
)


def build_trigger(config: TriggerConfigBase) -> TriggerPlugin:
    """The implementation for a validated config (not started yet)."""
    plugin: TriggerPlugin = build_plugin(TRIGGER_PLUGINS, config)
    return plugin


__all__ = [
    "TRIGGER_PLUGINS",
    "ReportsFailures",
    "TriggerConfig",
    "TriggerConfigBase",
    "TriggerEvent",
    "TriggerPlugin",
    "build_trigger",
]
