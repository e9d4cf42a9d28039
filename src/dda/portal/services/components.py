"""The component registry (the seed's Greengrass components): model components (a model version
for one target, with its signed package) and station components (a station software version),
each with a semantic version, platform, dependencies, default configuration and its JSON schema."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import dda
from dda.core.errors import Conflict, InvalidInput, NotFound
from dda.portal.db import Component

SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
PLATFORM_OF = {
    "x86_64-cpu": "linux/amd64",
    "x86_64-cuda": "linux/amd64+cuda",
    "openvino": "linux/amd64",
    "arm64-cpu": "linux/arm64",
    "jetson": "linux/arm64+jetson",
}
MODEL_CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "threshold": {
            "type": ["number", "null"],
            "minimum": 0,
            "maximum": 1,
            "description": "anomaly score threshold; null: the model's calibrated one",
        },
        "min_defect_area_pct": {"type": "number", "minimum": 0, "maximum": 100},
        "execution_providers": {"type": "array", "items": {"enum": ["tensorrt", "cuda", "openvino", "cpu"]}},
    },
}


def _parse(version: str) -> tuple[int, int, int]:
    match = SEMVER.match(version)
    if match is None:
        raise InvalidInput(f"version {version!r} is not MAJOR.MINOR.PATCH", hint="e.g. 1.0.0")
    return int(match[1]), int(match[2]), int(match[3])


def next_version(session: Session, usecase_id: str, names: list[str]) -> str:
    """One version free for every name: 1.0.0, then the newest patch + 1."""
    versions = session.scalars(
        select(Component.version).where(Component.usecase_id == usecase_id, Component.name.in_(names))
    ).all()
    if not versions:
        return "1.0.0"
    major, minor, patch = max(_parse(v) for v in versions)
    return f"{major}.{minor}.{patch + 1}"


def model_default_config(target: str) -> dict[str, Any]:
    providers = {"x86_64-cuda": ["tensorrt", "cuda", "cpu"], "openvino": ["openvino", "cpu"]}
    return {
        "threshold": None,
        "min_defect_area_pct": 0.1,
        "execution_providers": providers.get(target, ["cpu"]),
    }


def station_dependency() -> dict[str, str]:
    major, minor = dda.__version__.split(".")[:2]
    return {"dda-station": f">={major}.{minor}"}


def add(session: Session, row: Component) -> Component:
    _parse(row.version)
    existing = session.scalar(
        select(Component).where(
            Component.usecase_id == row.usecase_id,
            Component.name == row.name,
            Component.version == row.version,
        )
    )
    if existing is not None:
        raise Conflict(f"component {row.name} {row.version} exists", hint="publish a higher version")
    session.add(row)
    session.flush()
    return row


def get(session: Session, usecase_id: str, component_id: str) -> Component:
    row = session.scalar(
        select(Component).where(Component.id == component_id, Component.usecase_id == usecase_id)
    )
    if row is None:
        raise NotFound(f"no component {component_id!r} in this use case", hint="list GET .../components")
    return row


def list_components(
    session: Session, usecase_id: str, *, kind: str | None = None, name: str | None = None, limit: int = 100
) -> list[Component]:
    query = select(Component).where(Component.usecase_id == usecase_id)
    if kind:
        query = query.where(Component.kind == kind)
    if name:
        query = query.where(Component.name == name)
    return list(session.scalars(query.order_by(Component.created_at.desc(), Component.id).limit(limit)))
