"""Station health for the UI and API: host load, storage, models, latency, throughput, counts."""

from __future__ import annotations

import os
import time
from typing import Any

import psutil

import dda
from dda.station.context import Station
from dda.station.repositories import workflows as workflows_repo
from dda.station.services import results as results_service
from dda.station.services.models import list_models


def liveness(station: Station) -> dict[str, Any]:
    """What anyone may see: the station answers (no counts, errors, models or versions)."""
    return {"status": "ok", "live": True}


def health(station: Station) -> dict[str, Any]:
    process = psutil.Process(os.getpid())
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(str(station.paths.root))
    with station.session() as session:
        models = [
            {"name": m.name, "version": m.version, "status": m.status, "loaded": m.loaded}
            for m in list_models(station, session)
        ]
        summary = results_service.summary(session)
        workflows = []
        for row in workflows_repo.list_all(session):
            state, error = station.workflows.actual_state(row)
            workflows.append({"id": row.id, "name": row.name, "state": state, "error": error})
    station.metrics.models_loaded.set(len(station.registry.loaded_keys()))
    station.metrics.storage_bytes.set(station.store.total_bytes)
    drift = station.inspector.drift.status()
    degraded = any(w["state"] == "error" for w in workflows) or any(d["alarm"] for d in drift.values())
    return {
        "status": "degraded" if degraded else "ok",
        "version": dda.__version__,
        "uptime_s": round(time.time() - station.started_at, 1),
        "cpu_percent": psutil.cpu_percent(interval=None),
        "memory": {
            "used_bytes": memory.total - memory.available,
            "total_bytes": memory.total,
            "percent": memory.percent,
            "rss_bytes": process.memory_info().rss,
        },
        "disk": {
            "used_bytes": disk.used,
            "total_bytes": disk.total,
            "free_bytes": disk.free,
            "percent": disk.percent,
        },
        "storage": {"used_bytes": station.store.total_bytes, "quota_bytes": station.store.quota_bytes},
        "models": models,
        "latency_ms": station.metrics.percentiles(),
        "throughput_per_s": station.metrics.throughput(),
        "counts": {
            "total": summary["total"],
            "normal": summary["normal"],
            "anomaly": summary["anomaly"],
            "flagged": summary["flagged"],
        },
        "workflows": workflows,
        "drift": drift,
    }
