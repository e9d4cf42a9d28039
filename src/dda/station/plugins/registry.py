"""Every plugin of every family, described for the API (type, title, JSON schema of its config)."""

from __future__ import annotations

from typing import Any

from dda.station.plugins.family import PluginTable
from dda.station.plugins.outputs import OUTPUT_PLUGINS
from dda.station.plugins.sources import SOURCE_PLUGINS
from dda.station.plugins.triggers import TRIGGER_PLUGINS


def _describe(plugins: PluginTable) -> list[dict[str, Any]]:
    return [
        {
            "type": type_name,
            "title": getattr(config_cls, "title", type_name),
            "description": (implementation.__doc__ or config_cls.__doc__ or "").strip().split("\n\n")[0],
            "schema": config_cls.model_json_schema(),
        }
        for type_name, (config_cls, implementation) in plugins.items()
    ]


def plugin_catalog() -> dict[str, list[dict[str, Any]]]:
    return {
        "sources": _describe(SOURCE_PLUGINS),
        "triggers": _describe(TRIGGER_PLUGINS),
        "outputs": _describe(OUTPUT_PLUGINS),
    }
