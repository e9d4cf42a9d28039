"""Output plugins: configs in one discriminated union, implementations behind one Protocol."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dda.station.plugins.outputs.base import OutputConfigBase, OutputPlugin, ResultEvent
from dda.station.plugins.outputs.digital_output import DigitalOutput, DigitalOutputConfig
from dda.station.plugins.outputs.mqtt import MqttOutput, MqttOutputConfig
from dda.station.plugins.outputs.webhook import WebhookOutput, WebhookOutputConfig

OutputConfig = Annotated[
    DigitalOutputConfig | WebhookOutputConfig | MqttOutputConfig, Field(discriminator="type")
]

OUTPUT_PLUGINS: dict[str, tuple[type[OutputConfigBase], type]] = {
    "digital_output": (DigitalOutputConfig, DigitalOutput),
    "webhook": (WebhookOutputConfig, WebhookOutput),
    "mqtt": (MqttOutputConfig, MqttOutput),
}


def build_output(config: OutputConfigBase) -> OutputPlugin:
    _, implementation = OUTPUT_PLUGINS[config.type]  # type: ignore[attr-defined]
    plugin: OutputPlugin = implementation(config)
    return plugin


__all__ = [
    "OUTPUT_PLUGINS",
    "OutputConfig",
    "OutputConfigBase",
    "OutputPlugin",
    "ResultEvent",
    "build_output",
]
