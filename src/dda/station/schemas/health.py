from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class HealthOut(BaseModel):
    status: str
    version: str
    uptime_s: float
    cpu_percent: float
    memory: dict[str, Any]
    disk: dict[str, Any]
    storage: dict[str, Any]
    models: list[dict[str, Any]]
    latency_ms: dict[str, dict[str, float | None]]
    throughput_per_s: float
    counts: dict[str, int]
    workflows: list[dict[str, Any]]
