from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dda.station.api.deps import Public, StationDep, Viewer
from dda.station.services.health import health, liveness

router = APIRouter(tags=["health"])


@router.get("/api/v1/health")
def get_health(user: Public, station: StationDep) -> dict[str, Any]:
    """Without a login: liveness only. Logged in: host load, storage, models, per-stage latency
    p50/p99, throughput, counts and workflow states (with their errors)."""
    if user is None:
        return liveness(station)
    return health(station)


@router.get("/api/v1/health/history")
def get_health_history(_: Viewer, station: StationDep) -> dict[str, Any]:
    """The last hour of CPU, memory, station RSS and throughput, one point per 5 s (oldest first)."""
    return {"interval_s": station.history.interval_s, "points": station.history.points()}


@router.get("/metrics")
def metrics(_: Viewer, station: StationDep) -> Response:
    """Prometheus metrics (scrape with an API token: ``authorization: Bearer dda_...``)."""
    station.metrics.storage_bytes.set(station.store.total_bytes)
    station.metrics.models_loaded.set(len(station.registry.loaded_keys()))
    return Response(generate_latest(station.metrics.registry), media_type=CONTENT_TYPE_LATEST)
