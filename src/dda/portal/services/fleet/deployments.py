"""Deployments: target devices (one, a group or a tag), staged waves with soak time and a failure
threshold, per-device status from the agents' reports, cancel and one-click rollback."""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dda.core.errors import Conflict, InvalidInput, NotFound
from dda.fleet_protocol import DeploymentReport
from dda.portal.db import Deployment, DeploymentDevice, Device
from dda.portal.services.fleet import gate

FINAL_PHASES = {"healthy", "failed", "rolled_back"}
ROLLBACK_NEVER_HALTS = 1_000_000  # a rollback goes everywhere at once, whatever fails
_WAVE = re.compile(r"^(\d{1,6})(%?)$")


@dataclass(frozen=True)
class DeploymentItem:
    model_name: str
    model_version: str
    package_key: str
    package_sha256: str
    package_size: int

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def deployment_etag(deployment: Deployment) -> str:
    """What a station compares with what it applied (the models and the configuration)."""
    payload = json.dumps([deployment.id, deployment.items, deployment.config], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def wave_sizes(spec: list[str], total: int) -> list[int]:
    """Cumulative device counts per wave from ["1", "10%", "100%"]; the last wave takes the rest."""
    if total == 0:
        raise InvalidInput("the deployment target matches no device", hint="check the device, group or tag")
    cumulative: list[int] = []
    for part in spec or ["100%"]:
        match = _WAVE.match(part.strip())
        if match is None:
            raise InvalidInput(
                f"wave {part!r} is neither a count nor a percentage", hint='use e.g. ["1", "50%", "100%"]'
            )
        value = int(match.group(1))
        count = math.ceil(total * min(value, 100) / 100) if match.group(2) else min(value, total)
        count = max(count, cumulative[-1] if cumulative else 0)
        if not cumulative or count > cumulative[-1]:
            cumulative.append(count)
    if cumulative[-1] < total:
        cumulative.append(total)
    return cumulative


def target_devices(session: Session, usecase_id: str, kind: str, value: str) -> list[Device]:
    query = select(Device).where(Device.usecase_id == usecase_id, Device.revoked_at.is_(None))
    if kind == "device":
        query = query.where((Device.id == value) | (Device.name == value))
    elif kind == "group":
        query = query.where(Device.group == value)
    rows = list(session.scalars(query.order_by(Device.name)))
    if kind == "tag":
        rows = [d for d in rows if value in (d.tags or [])]
    return rows


def create(
    session: Session,
    usecase_id: str,
    *,
    name: str,
    target_kind: str,
    target_value: str,
    items: list[DeploymentItem],
    config: dict[str, Any] | None,
    waves: list[str],
    soak_s: int,
    failure_threshold: int,
    created_by: str | None,
    rollback_of: str | None = None,
    quality_gate: dict[str, Any] | None = None,
) -> Deployment:
    if not items and config is None:
        raise InvalidInput(
            "a deployment needs at least one model package or a configuration", hint="pick one"
        )
    devices = target_devices(session, usecase_id, target_kind, target_value)
    sizes = wave_sizes(waves, len(devices))
    deployment = Deployment(
        usecase_id=usecase_id,
        name=name,
        target_kind=target_kind,
        target_value=target_value,
        items=[item.as_dict() for item in items],
        config=config,
        waves=sizes,
        soak_s=soak_s,
        failure_threshold=failure_threshold,
        created_by=created_by,
        rollback_of=rollback_of,
        quality_gate=quality_gate or None,
    )
    session.add(deployment)
    session.flush()
    start = 0
    for wave, end in enumerate(sizes):
        for device in devices[start:end]:
            link = DeploymentDevice(
                deployment_id=deployment.id, device_id=device.id, wave=wave, baseline=gate.baseline_of(device)
            )
            session.add(link)
        start = end
    session.flush()
    return deployment


def get(session: Session, usecase_id: str, deployment_id: str) -> Deployment:
    row = session.get(Deployment, deployment_id)
    if row is None or row.usecase_id != usecase_id:
        raise NotFound(
            f"no deployment {deployment_id!r} in this use case", hint="list deployments to pick one"
        )
    return row


def device_rows(session: Session, deployment_id: str) -> list[tuple[DeploymentDevice, Device]]:
    rows = session.execute(
        select(DeploymentDevice, Device)
        .join(Device, Device.id == DeploymentDevice.device_id)
        .where(DeploymentDevice.deployment_id == deployment_id)
        .order_by(DeploymentDevice.wave, Device.name)
    )
    return [(link, device) for link, device in rows]


def apply_report(session: Session, device: Device, report: DeploymentReport) -> None:
    link = session.get(DeploymentDevice, (report.deployment_id, device.id))
    if link is None:
        raise NotFound(
            "this device is not part of that deployment", hint="report only deployments you were given"
        )
    link.phase = report.phase
    link.progress_pct = report.progress_pct
    link.reason = report.reason
    link.updated_at = datetime.now(UTC)
    deployment = session.get(Deployment, report.deployment_id)
    if deployment is not None:
        advance(session, deployment)


def advance(session: Session, deployment: Deployment) -> None:
    """Move the rollout on: halt past the failure threshold (rolling the released waves back),
    release the next wave once the current ones are healthy and have soaked, or complete."""
    if deployment.status != "active":
        return
    links = [link for link, _ in device_rows(session, deployment.id)]
    released = [link for link in links if link.wave <= deployment.released_wave]
    failed = [link for link in released if link.phase in ("failed", "rolled_back")]
    now = datetime.now(UTC)
    if len(failed) > deployment.failure_threshold:
        deployment.status = "failed"
        deployment.status_reason = (
            f"{len(failed)} device(s) failed in wave {deployment.released_wave + 1} "
            f"(threshold {deployment.failure_threshold}); the released waves were rolled back"
        )
        deployment.finished_at = now
        for link in released:
            link.superseded = True
        return
    if not released or any(link.phase != "healthy" for link in released):
        return
    if deployment.wave_done_at is None:
        deployment.wave_done_at = now
    if (now - deployment.wave_done_at).total_seconds() < deployment.soak_s:
        return
    gated = deployment.released_wave == 0 and bool(deployment.quality_gate)
    if gated and not _canary_passes(session, deployment, released, now):
        return
    if deployment.released_wave + 1 < len(deployment.waves):
        deployment.released_wave += 1
        deployment.wave_done_at = None
        return
    deployment.status = "completed"
    deployment.finished_at = now


_last_advance: dict[str, float] = {}
ADVANCE_EVERY_S = 1.0


def advance_throttled(session: Session, deployment_id: str) -> None:
    """advance() from heartbeats, at most once a second per rollout and process: with thousands of
    devices in one rollout, each beat must not reload its whole device table."""
    now = time.monotonic()
    if now - _last_advance.get(deployment_id, 0.0) < ADVANCE_EVERY_S:
        return
    if len(_last_advance) > 10_000:
        _last_advance.clear()
    _last_advance[deployment_id] = now
    deployment = session.get(Deployment, deployment_id)
    if deployment is not None:
        advance(session, deployment)


def _canary_passes(
    session: Session, deployment: Deployment, canary: list[DeploymentDevice], now: datetime
) -> bool:
    """The quality gate on the canary wave: wait for a heartbeat on the new model from every
    canary device; then pass (the rollout goes on) or halt and roll the canary back."""
    devices = {
        d.id: d for d in session.scalars(select(Device).where(Device.id.in_([c.device_id for c in canary])))
    }
    etag = deployment_etag(deployment)
    verdict = gate.evaluate(
        deployment.quality_gate or {}, [(link, devices[link.device_id]) for link in canary], etag
    )
    if verdict is None:
        return False  # a canary has not reported on the new model yet
    deployment.gate_report = verdict.report
    if verdict.passed:
        return True
    deployment.status = "failed"
    deployment.status_reason = (
        f"quality gate failed on the canary: {verdict.summary}; the canary was rolled back"
    )
    deployment.finished_at = now
    for link in canary:
        link.superseded = True
    return False


def cancel(session: Session, deployment: Deployment) -> None:
    """Stop the rollout: devices not yet reached never get it; devices that have it fall back to
    their previous deployment on their next call."""
    if deployment.status not in ("active",):
        raise Conflict(
            f"the deployment is {deployment.status}, not active", hint="only an active one can be cancelled"
        )
    deployment.status = "cancelled"
    deployment.finished_at = datetime.now(UTC)


def previous_for_target(session: Session, deployment: Deployment) -> Deployment | None:
    return session.scalar(
        select(Deployment)
        .where(
            Deployment.usecase_id == deployment.usecase_id,
            Deployment.target_kind == deployment.target_kind,
            Deployment.target_value == deployment.target_value,
            Deployment.created_at < deployment.created_at,
            Deployment.status.in_(["completed", "active"]),
        )
        .order_by(Deployment.created_at.desc())
        .limit(1)
    )


def rollback(session: Session, deployment: Deployment, created_by: str | None) -> Deployment:
    """One click: redeploy what this target ran before, to all its devices at once."""
    previous = previous_for_target(session, deployment)
    if previous is None:
        raise Conflict(
            "there is no earlier deployment to this target to roll back to", hint="deploy a model instead"
        )
    if deployment.status == "active":
        deployment.status = "cancelled"
        deployment.finished_at = datetime.now(UTC)
    items = [DeploymentItem(**item) for item in previous.items]
    return create(
        session,
        deployment.usecase_id,
        name=f"rollback of {deployment.name}"[:63],
        target_kind=deployment.target_kind,
        target_value=deployment.target_value,
        items=items,
        config=previous.config,
        waves=["100%"],
        soak_s=0,
        failure_threshold=ROLLBACK_NEVER_HALTS,
        created_by=created_by,
        rollback_of=deployment.id,
    )


def device_in_deployment(session: Session, deployment_id: str, device_id: str) -> Deployment:
    link = session.get(DeploymentDevice, (deployment_id, device_id))
    deployment = session.get(Deployment, deployment_id)
    if link is None or deployment is None:
        raise NotFound("no such deployment for this device", hint="poll the desired state again")
    return deployment


def active_for_device(session: Session, device_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Deployment.id)
            .join(DeploymentDevice, DeploymentDevice.deployment_id == Deployment.id)
            .where(DeploymentDevice.device_id == device_id, Deployment.status == "active")
        )
    )
