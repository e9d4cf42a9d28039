"""The output family: what happens after a result is stored (I/O pulse, webhook, MQTT)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

Rule = Literal["all", "normal", "anomaly"]


class OutputConfigBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: ClassVar[str] = ""


@dataclass(frozen=True)
class ResultEvent:
    """A stored, durable result, as outputs see it (the same JSON the API returns for a result)."""

    payload: dict[str, Any]

    @property
    def prediction(self) -> str:
        return str(self.payload.get("prediction", ""))

    def matches(self, rule: Rule) -> bool:
        return rule == "all" or self.prediction == rule

    def to_json(self) -> bytes:
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True, default=str).encode()


@runtime_checkable
class OutputPlugin(Protocol):
    """``setup`` connects, ``emit`` delivers one result (it may block: each output runs on its own
    worker thread, so a slow webhook never holds up inspection), ``teardown`` disconnects."""

    def setup(self) -> None: ...

    def emit(self, event: ResultEvent) -> None: ...

    def teardown(self) -> None: ...
