"""What a heartbeat reports: software, models, workflows, cameras, host load, recent results."""

from __future__ import annotations

import os
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from sqlalchemy import func, select

import dda
from dda.fleet_protocol import Heartbeat, InstalledModel, WorkflowState
from dda.station.context import Station
from dda.station.db.models import ImageSource, InferenceResult, Workflow
from dda.station.services.models import installed_dirs

LOG_TAIL_LINES = 200


def collect(station: Station, applied_etag: str | None, *, with_logs: bool) -> Heartbeat:
    since = datetime.now(UTC) - timedelta(minutes=1)
    with station.session() as session:
        workflows = [
            WorkflowState(
                name=w.name,
                state=station.workflows.actual_state(w)[0],
                model=f"{w.model_name}:{w.model_version}",
            )
            for w in session.scalars(select(Workflow).order_by(Workflow.id))
        ]
        cameras = session.scalar(select(func.count()).select_from(ImageSource)) or 0
        recent = list(
            session.execute(
                select(InferenceResult.prediction, InferenceResult.latency_ms)
                .where(InferenceResult.created_at >= since)
                .order_by(InferenceResult.id.desc())
                .limit(5000)
            )
        )
    count = len(recent)
    anomalies = sum(1 for prediction, _ in recent if prediction == "anomaly")
    latencies = sorted(float((timing or {}).get("total", 0.0)) for _, timing in recent)
    models = [
        InstalledModel(
            name=d.parent.name, version=d.name, loaded=station.registry.is_loaded(d.parent.name, d.name)
        )
        for d in installed_dirs(station.paths.model_repo)
    ]
    disk = psutil.disk_usage(str(station.paths.root))
    return Heartbeat(
        station_version=dda.__version__,
        models=models[:200],
        workflows=workflows[:200],
        cameras=cameras,
        cpu_pct=psutil.cpu_percent(interval=None),
        memory_pct=psutil.virtual_memory().percent,
        disk_pct=disk.percent,
        throughput_per_min=float(count),
        anomaly_rate=(anomalies / count) if count else 0.0,
        p99_latency_ms=latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else 0.0,
        desired_etag=applied_etag,
        log_tail=log_tail(LOG_TAIL_LINES) if with_logs else None,
    )


def log_tail(lines: int, log_file: Path | None = None) -> list[str]:
    """The last lines of the station's log file (DDA_LOG_FILE), for the portal."""
    log_file = log_file or (Path(os.environ["DDA_LOG_FILE"]) if os.environ.get("DDA_LOG_FILE") else None)
    if log_file is None or not log_file.is_file():
        return ["(this station writes no log file; set DDA_LOG_FILE to have logs sent)"]
    with log_file.open("r", errors="replace") as handle:
        return [line.rstrip("\n")[:2000] for line in deque(handle, maxlen=min(lines, 2000))]
