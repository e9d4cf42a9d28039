"""What the three plugin families (sources, triggers, outputs) share: a table of their plugins keyed
by each config's ``type`` literal, and building an implementation from a validated config.

The discriminated unions stay written out in each family: they are types that mypy and pydantic
read statically, so they cannot be assembled from the table at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

ConfigT = TypeVar("ConfigT", bound=BaseModel)

# type name -> (config class, implementation class taking that config)
PluginTable = Mapping[str, tuple[type[BaseModel], type]]


def plugin_table(*plugins: tuple[type[ConfigT], type]) -> dict[str, tuple[type[ConfigT], type]]:
    """Key each (config class, implementation) pair by the config's ``type`` literal, in order.

    The name is taken from the config so that it is written once; a config without a string
    ``type`` default, or a name used twice, is a programming error caught at import.
    """
    table: dict[str, tuple[type[ConfigT], type]] = {}
    for config_cls, implementation in plugins:
        field = config_cls.model_fields.get("type")
        type_name = field.default if field is not None else None
        if not isinstance(type_name, str) or type_name in table:
            raise TypeError(
                f"{config_cls.__name__} needs a `type: Literal[...]` field whose default is that "
                f"literal, unique within its family (got {type_name!r})"
            )
        table[type_name] = (config_cls, implementation)
    return table


def build_plugin(table: PluginTable, config: BaseModel) -> Any:
    """A new implementation for a validated config of ``table``'s family (not opened or started)."""
    _, implementation = table[config.type]  # type: ignore[attr-defined]
    return implementation(config)
