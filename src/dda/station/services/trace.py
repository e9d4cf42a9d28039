"""Traceability and recipe choice for one capture.

A capture's part (part id, serial, lot) and recipe number come from its trigger: a PLC writes them
into tags, an MQTT message or an HTTP Run call carries them (``part_id``/``barcode``, ``serial``,
``lot``, ``recipe``; an MQTT payload that is a JSON object is read for the same keys). The recipe
picks the model version and threshold for that part (product changeover without a person).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dda.core.errors import InvalidInput

MAX_TEXT = 128
MAX_RECIPE = 65_535
PART_KEYS = ("part_id", "barcode", "part")


@dataclass(frozen=True)
class Trace:
    part_id: str | None = None
    serial: str | None = None
    lot: str | None = None
    recipe: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"part_id": self.part_id, "serial": self.serial, "lot": self.lot, "recipe": self.recipe}


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = "".join(ch for ch in str(value).strip() if ch.isprintable())[:MAX_TEXT]
    return text or None


def _recipe(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if 0 <= number <= MAX_RECIPE else None


def trace_from_detail(detail: dict[str, Any]) -> Trace:
    """The part and recipe a trigger event carries (unknown or malformed fields are left out)."""
    fields = dict(detail)
    payload = fields.get("payload")
    if isinstance(payload, str) and payload.lstrip().startswith("{"):
        try:
            parsed = json.loads(payload)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            fields = {**parsed, **{k: v for k, v in fields.items() if k != "payload"}}
    part = next((_text(fields[k]) for k in PART_KEYS if _text(fields.get(k)) is not None), None)
    return Trace(part, _text(fields.get("serial")), _text(fields.get("lot")), _recipe(fields.get("recipe")))


class Recipe(BaseModel):
    """What a recipe number selects for the next part."""

    model_config = ConfigDict(extra="forbid")
    model_name: str = Field(..., min_length=1, max_length=128)
    model_version: str = Field(..., min_length=1, max_length=64)
    threshold: float | None = Field(None, ge=-1e6, le=1e6, description="None: the model's own threshold")
    name: str = Field("", max_length=100, description="Product name, for people")


@dataclass(frozen=True)
class Choice:
    """Model and threshold used for one capture."""

    model_name: str
    model_version: str
    threshold: float | None
    recipe: int | None


def choose(
    model: tuple[str, str], threshold: float | None, recipes: dict[int, Recipe], recipe: int | None
) -> Choice:
    """The workflow's own model/threshold, or the recipe's. Recipe 0 means "the default" unless the
    workflow defines a recipe 0; any other unknown number is refused (no part judged by a guess)."""
    if recipe is None or (recipe == 0 and 0 not in recipes):
        return Choice(model[0], model[1], threshold, recipe)
    chosen = recipes.get(recipe)
    if chosen is None:
        raise InvalidInput(
            f"recipe {recipe} is not defined for this workflow",
            hint=f"defined recipes: {sorted(recipes) or 'none'}; add it to the workflow's recipes",
        )
    return Choice(chosen.model_name, chosen.model_version, chosen.threshold, recipe)
