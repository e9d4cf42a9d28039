"""Plugin configs in and out of the database and the API.

Secrets (webhook secret, MQTT password) are stored in the database as plain values (the station
database is the station's own secret store) and shown to API clients as "**********". An update
that sends the mask back keeps the stored secret.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from dda.core.errors import InvalidInput
from dda.station.plugins.outputs import OutputConfig, OutputConfigBase
from dda.station.plugins.processing import CameraSettings
from dda.station.plugins.sources import SourceConfig, SourceConfigBase
from dda.station.plugins.triggers import TriggerConfig, TriggerConfigBase

MASK = "**********"
_SOURCE = TypeAdapter(SourceConfig)
_TRIGGER = TypeAdapter(TriggerConfig)
_OUTPUT = TypeAdapter(OutputConfig)


def _reveal(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value


def to_storage(config: BaseModel) -> dict[str, Any]:
    """JSON for the database, secrets included."""
    data: dict[str, Any] = _reveal(config.model_dump(mode="python"))
    dumped: dict[str, Any] = TypeAdapter(dict[str, Any]).dump_python(data, mode="json")
    return dumped


def to_public(config: BaseModel) -> dict[str, Any]:
    """JSON for API clients: secrets masked."""
    return config.model_dump(mode="json")


def keep_masked_secrets(new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """Where a client sent the mask back, keep the stored secret."""
    if old is None or new.get("type") != old.get("type"):
        return new
    return {k: (old.get(k) if v == MASK else v) for k, v in new.items()}


def _load(adapter: TypeAdapter[Any], data: dict[str, Any], what: str) -> Any:
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(
            f"stored {what} config is not valid any more: {problems}",
            hint=f"edit the {what} and save it again",
        ) from exc


def load_source(data: dict[str, Any]) -> SourceConfigBase:
    result: SourceConfigBase = _load(_SOURCE, data, "image source")
    return result


def load_camera(data: dict[str, Any]) -> CameraSettings:
    result: CameraSettings = _load(TypeAdapter(CameraSettings), data, "camera settings")
    return result


def load_trigger(data: dict[str, Any]) -> TriggerConfigBase:
    result: TriggerConfigBase = _load(_TRIGGER, data, "trigger")
    return result


def load_output(data: dict[str, Any]) -> OutputConfigBase:
    result: OutputConfigBase = _load(_OUTPUT, data, "output")
    return result
