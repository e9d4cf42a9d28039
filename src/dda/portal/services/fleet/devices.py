"""Device inventory, heartbeats, computed status, and each device's desired state."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from dda.core.errors import NotFound
from dda.fleet_protocol import DesiredModel, DesiredState, Heartbeat, HeartbeatResponse
from dda.portal.db import Deployment, DeploymentDevice, Device, DeviceHeartbeat
from dda.portal.services.fleet.deployments import deployment_etag
from dda.portal.services.fleet.enrollment import HEARTBEAT_INTERVAL_S

ONLINE_WITHIN = timedelta(seconds=3 * HEARTBEAT_INTERVAL_S)
STALE_WITHIN = timedelta(minutes=10)
HISTORY_BUCKET_S = 300  # one history point per device per 5 minutes (means of its beats)
HISTORY_PER_DEVICE = 2016  # a week of 5-minute points
METRICS = ("cpu_pct", "memory_pct", "disk_pct", "throughput_per_min", "anomaly_rate", "p99_latency_ms")
NO_DEPLOYMENT_ETAG = "none"


def status_of(device: Device, now: datetime | None = None) -> str:
    if device.revoked_at is not None:
        return "revoked"
    if device.last_seen_at is None:
        return "never_seen"
    age = (now or datetime.now(UTC)) - device.last_seen_at
    if age <= ONLINE_WITHIN:
        return "online"
    return "stale" if age <= STALE_WITHIN else "offline"


def get(session: Session, usecase_id: str, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None or device.usecase_id != usecase_id:
        raise NotFound(f"no device {device_id!r} in this use case", hint="list devices to pick one")
    return device


def search(
    session: Session,
    usecase_id: str,
    *,
    group: str | None = None,
    tag: str | None = None,
    text: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[Device]:
    query = select(Device).where(Device.usecase_id == usecase_id).order_by(Device.name)
    if group:
        query = query.where(Device.group == group)
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        query = query.where(or_(Device.name.ilike(like), Device.group.ilike(like)))
    if after:
        query = query.where(Device.name > after)
    rows = list(session.scalars(query.limit(limit * 4 if tag else limit)))
    if tag:  # tags are a JSON list: filtered here, portable across SQLite and PostgreSQL
        rows = [d for d in rows if tag in (d.tags or [])][:limit]
    return rows


def record_heartbeat(
    session: Session, device: Device, beat: Heartbeat, view: DesiredView
) -> HeartbeatResponse:
    """One beat: the device row is updated in place (one UPDATE); history is aggregated into
    buckets of HISTORY_BUCKET_S carried on that row and written as one history row per bucket, so a
    beat costs no INSERT of its own (the 10k-device load test needs it light). Call it after the
    beat's reads (desired_view first): the writes then reach the database at commit, and SQLite's
    write lock is held for that instant only."""
    now = datetime.now(UTC)
    device.last_seen_at = now
    summary = beat.model_dump(mode="json", exclude={"log_tail"})
    device.last_heartbeat = summary
    device.applied_etag = beat.desired_etag
    if beat.log_tail is not None:
        device.log_tail = [line[:2000] for line in beat.log_tail[-500:]]
        device.log_tail_at = now
        device.logs_requested_at = None
    _aggregate(session, device, {k: float(summary[k]) for k in METRICS}, now)
    return HeartbeatResponse(
        desired_etag=view.state.etag, send_logs=device.logs_requested_at is not None, server_time=now
    )


def _aggregate(session: Session, device: Device, metrics: dict[str, float], now: datetime) -> None:
    """Fold a beat into the device's open bucket (running means; the worst p99); a bucket older
    than HISTORY_BUCKET_S becomes one history row and a new bucket starts."""
    bucket = device.history_bucket or {}
    start = _parse(bucket.get("start"))
    if start is not None and (now - start).total_seconds() >= HISTORY_BUCKET_S:
        session.add(DeviceHeartbeat(device_id=device.id, at=start, metrics=_bucket_point(bucket)))
        if secrets.randbelow(64) == 0:  # now and then, not on every bucket
            _prune_history(session, device.id)
        bucket, start = {}, None
    if start is None:
        bucket = {"start": now.isoformat(), "n": 0, "mean": dict.fromkeys(metrics, 0.0)}
    n = int(bucket["n"]) + 1
    mean = dict(bucket["mean"])
    for key, value in metrics.items():
        previous = float(mean.get(key, 0.0))
        mean[key] = max(previous, value) if key == "p99_latency_ms" else previous + (value - previous) / n
    device.history_bucket = {"start": bucket["start"], "n": n, "mean": mean}


def _bucket_point(bucket: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: round(float(v), 4) for k, v in bucket.get("mean", {}).items()},
        "beats": int(bucket.get("n", 0)),
    }


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _prune_history(session: Session, device_id: str) -> None:
    cutoff = session.scalar(
        select(DeviceHeartbeat.id)
        .where(DeviceHeartbeat.device_id == device_id)
        .order_by(DeviceHeartbeat.id.desc())
        .offset(HISTORY_PER_DEVICE)
        .limit(1)
    )
    if cutoff is not None:
        session.execute(
            delete(DeviceHeartbeat).where(
                DeviceHeartbeat.device_id == device_id, DeviceHeartbeat.id <= cutoff
            )
        )


@dataclass(frozen=True)
class HistoryPoint:
    at: datetime
    metrics: dict[str, Any]


def history(session: Session, device: Device, since: datetime | None, limit: int) -> list[HistoryPoint]:
    """The stored buckets, oldest first, then the open one (so a chart is never a bucket behind)."""
    query = select(DeviceHeartbeat).where(DeviceHeartbeat.device_id == device.id)
    if since is not None:
        query = query.where(DeviceHeartbeat.at >= since)
    rows = list(session.scalars(query.order_by(DeviceHeartbeat.id.desc()).limit(limit)))
    points = [HistoryPoint(at=r.at, metrics=r.metrics) for r in rows[::-1]]
    bucket = device.history_bucket or {}
    start = _parse(bucket.get("start"))
    if start is not None and (since is None or start >= since):
        points = [*points, HistoryPoint(at=start, metrics=_bucket_point(bucket))][-limit:]
    return points


@dataclass(frozen=True)
class DesiredView:
    state: DesiredState
    active_deployments: list[str]  # active rollouts this device belongs to (released or not)


def desired_for(session: Session, device: Device) -> DesiredState:
    return desired_view(session, device).state


def desired_view(session: Session, device: Device) -> DesiredView:
    """The newest deployment that reaches this device (its wave released, not cancelled, not
    rolled back for it); none at all means "keep what you have". One query serves both the
    desired state and the list of active rollouts to move on."""
    rows = session.execute(
        select(DeploymentDevice, Deployment)
        .join(Deployment, Deployment.id == DeploymentDevice.deployment_id)
        .where(DeploymentDevice.device_id == device.id)
        .order_by(Deployment.created_at.desc())
        .limit(50)
    ).all()
    active = [deployment.id for _, deployment in rows if deployment.status == "active"]
    for link, deployment in rows:
        if link.superseded or deployment.status == "cancelled" or link.wave > deployment.released_wave:
            continue
        return DesiredView(state=_state_of(deployment), active_deployments=active)
    return DesiredView(state=DesiredState(etag=NO_DEPLOYMENT_ETAG), active_deployments=active)


def _state_of(deployment: Deployment) -> DesiredState:
    models = [
        DesiredModel(
            model_name=item["model_name"],
            model_version=item["model_version"],
            package_sha256=item["package_sha256"],
            package_size=int(item["package_size"]),
            download_path=f"/api/v1/agent/packages/{deployment.id}/{index}",
        )
        for index, item in enumerate(deployment.items)
    ]
    return DesiredState(
        etag=deployment_etag(deployment), deployment_id=deployment.id, models=models, config=deployment.config
    )


def revoke(session: Session, usecase_id: str, device_id: str) -> Device:
    """The device's key stops working at once; enrolling again gives it a new identity."""
    device = get(session, usecase_id, device_id)
    if device.revoked_at is None:
        device.revoked_at = datetime.now(UTC)
    return device


def request_logs(session: Session, usecase_id: str, device_id: str) -> Device:
    """The station sends its log tail with its next heartbeat."""
    device = get(session, usecase_id, device_id)
    device.logs_requested_at = datetime.now(UTC)
    return device
