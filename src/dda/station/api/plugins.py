from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dda.station.api.deps import Viewer
from dda.station.plugins.registry import plugin_catalog

router = APIRouter(prefix="/api/v1", tags=["plugins"])


@router.get("/plugins")
def list_plugins(_: Viewer) -> dict[str, list[dict[str, Any]]]:
    """Every source, trigger and output type with the JSON schema of its config (for UI forms)."""
    return plugin_catalog()
