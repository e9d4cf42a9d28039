"""Device inventory, heartbeats, computed status, and each device's desired state."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from dda.core.errors import NotFound
from dda.fleet_protocol import DesiredModel, DesiredState, Heartbeat, HeartbeatResponse
from dda.portal.db import Deployment, DeploymentDevice, Device, DeviceHeartbeat
from dda.portal.services.fleet.enrollment import HEARTBEAT_INTERVAL_S

ONLINE_WITHIN = timedelta(seconds=3 * HEARTBEAT_INTERVAL_S)
STALE_WITHIN = timedelta(minutes=10)
HISTORY_PER_DEVICE = 2880  # a day of 30-s heartbeats
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


def record_heartbeat(session: Session, device: Device, beat: Heartbeat) -> HeartbeatResponse:
    now = datetime.now(UTC)
    device.last_seen_at = now
    summary = beat.model_dump(mode="json", exclude={"log_tail"})
    device.last_heartbeat = summary
    device.applied_etag = beat.desired_etag
    if beat.log_tail is not None:
        device.log_tail = [line[:2000] for line in beat.log_tail[-500:]]
        device.log_tail_at = now
        device.logs_requested_at = None
    metrics = {
        k: summary[k]
        for k in ("cpu_pct", "memory_pct", "disk_pct", "throughput_per_min", "anomaly_rate", "p99_latency_ms")
    }
    session.add(DeviceHeartbeat(device_id=device.id, at=now, metrics=metrics))
    _prune_history(session, device.id)
    desired = desired_for(session, device)
    return HeartbeatResponse(
        desired_etag=desired.etag, send_logs=device.logs_requested_at is not None, server_time=now
    )


def _prune_history(session: Session, device_id: str) -> None:
    count = session.scalar(select(func.count()).where(DeviceHeartbeat.device_id == device_id)) or 0
    if count > HISTORY_PER_DEVICE + 100:  # prune in batches, not on every beat
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


def history(session: Session, device_id: str, since: datetime | None, limit: int) -> list[DeviceHeartbeat]:
    query = select(DeviceHeartbeat).where(DeviceHeartbeat.device_id == device_id)
    if since is not None:
        query = query.where(DeviceHeartbeat.at >= since)
    rows = list(session.scalars(query.order_by(DeviceHeartbeat.id.desc()).limit(limit)))
    return rows[::-1]


def desired_for(session: Session, device: Device) -> DesiredState:
    """The newest deployment that reaches this device (its wave released, not cancelled, not
    rolled back for it); none at all means "keep what you have"."""
    rows = session.execute(
        select(DeploymentDevice, Deployment)
        .join(Deployment, Deployment.id == DeploymentDevice.deployment_id)
        .where(DeploymentDevice.device_id == device.id)
        .order_by(Deployment.created_at.desc())
        .limit(50)
    )
    for link, deployment in rows:
        if link.superseded or deployment.status == "cancelled" or link.wave > deployment.released_wave:
            continue
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
        payload = json.dumps(
            [deployment.id, deployment.items, deployment.config], sort_keys=True, default=str
        )
        etag = hashlib.sha256(payload.encode()).hexdigest()[:32]
        return DesiredState(etag=etag, deployment_id=deployment.id, models=models, config=deployment.config)
    return DesiredState(etag=NO_DEPLOYMENT_ETAG)


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
