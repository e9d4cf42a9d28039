from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dda.station.api.deps import StationDep
from dda.station.services.health import health

router = APIRouter(tags=["health"])


@router.get("/api/v1/health")
def get_health(station: StationDep) -> dict[str, Any]:
    """Host load, storage, models, per-stage latency p50/p99, throughput and counts (no login)."""
    return health(station)


@router.get("/metrics")
def metrics(station: StationDep) -> Response:
    station.metrics.storage_bytes.set(station.store.total_bytes)
    station.metrics.models_loaded.set(len(station.registry.loaded_keys()))
    return Response(generate_latest(station.metrics.registry), media_type=CONTENT_TYPE_LATEST)
