"""Remote operations (view logs, restart, reboot, browse and fetch files, update the station
configuration): queued per device, handed over with its next heartbeat as signed, expiring,
single-use commands; the station checks them against its own settings and reports the outcome."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import cast

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from dda.core.errors import Conflict, InvalidInput, NotFound
from dda.fleet_protocol import (
    CommandKind,
    CommandResult,
    DeviceCommand,
    SignedCommand,
    StationConfig,
    command_bytes,
)
from dda.portal.context import Portal
from dda.portal.db import Device, DeviceCommandRow
from dda.portal.services import signing_keys

ALLOWED = ("logs", "restart", "reboot", "list_files", "fetch_file", "update_config")
MAX_PENDING = 20


def _check_args(kind: str, args: dict[str, object]) -> dict[str, object]:
    if kind not in ALLOWED:
        raise InvalidInput(f"{kind!r} is not a remote operation", hint=f"one of {', '.join(ALLOWED)}")
    if kind in ("list_files", "fetch_file"):
        path = args.get("path", "")
        if not isinstance(path, str) or len(path) > 512 or "\x00" in path:
            raise InvalidInput("path must be a short relative path", hint="e.g. results/2026/12/01")
        return {"path": path}
    if kind == "update_config":
        try:
            document = StationConfig.model_validate(args.get("config"))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise InvalidInput(
                f"the station configuration is not valid: {problems}",
                hint='send {"config": {"version", "sources", "workflows"}} (see docs/fleet.md)',
            ) from exc
        return {"config": document.model_dump(mode="json")}
    if kind == "logs":
        lines = args.get("lines", 200)
        if not isinstance(lines, int) or not 1 <= lines <= 2000:
            raise InvalidInput("lines must be 1..2000", hint="e.g. 200")
        return {"lines": lines}
    return {}


def create(
    session: Session, device: Device, kind: str, args: dict[str, object], *, created_by: str, ttl_s: int
) -> DeviceCommandRow:
    if device.revoked_at is not None:
        raise Conflict("the device is revoked", hint="enroll it again first")
    pending = session.scalars(
        select(DeviceCommandRow.id).where(
            DeviceCommandRow.device_id == device.id, DeviceCommandRow.status.in_(["pending", "delivered"])
        )
    ).all()
    if len(pending) >= MAX_PENDING:
        raise Conflict("too many commands are waiting for this device", hint="wait for its next heartbeat")
    now = datetime.now(UTC)
    row = DeviceCommandRow(
        usecase_id=device.usecase_id,
        device_id=device.id,
        kind=kind,
        args=_check_args(kind, args),
        created_by=created_by,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    session.add(row)
    session.flush()
    return row


def deliver(session: Session, portal: Portal, device: Device) -> list[SignedCommand]:
    """The device's pending commands, signed, marked delivered (each goes out once)."""
    now = datetime.now(UTC)
    rows = list(
        session.scalars(
            select(DeviceCommandRow)
            .where(DeviceCommandRow.device_id == device.id, DeviceCommandRow.status == "pending")
            .order_by(DeviceCommandRow.created_at)
        )
    )
    if not rows:
        return []
    key = signing_keys.private_key(portal, signing_keys.active_key(session, portal, device.usecase_id))
    signed = []
    for row in rows:
        if row.expires_at <= now:
            row.status, row.finished_at = "expired", now
            continue
        command = DeviceCommand(
            id=row.id,
            device_id=device.id,
            kind=cast(CommandKind, row.kind),
            args=row.args,
            issued_at=row.created_at,
            expires_at=row.expires_at,
        )
        signature = base64.b64encode(key.sign(command_bytes(command))).decode()
        signed.append(SignedCommand(command=command, signature=signature))
        row.status, row.delivered_at = "delivered", now
    return signed


def get(session: Session, device_id: str, command_id: str) -> DeviceCommandRow:
    row = session.get(DeviceCommandRow, command_id)
    if row is None or row.device_id != device_id:
        raise NotFound(f"no command {command_id!r} for this device", hint="list the device's commands")
    return row


def finish(session: Session, device: Device, command_id: str, result: CommandResult) -> DeviceCommandRow:
    row = get(session, device.id, command_id)
    if row.status != "delivered":
        raise Conflict(f"the command is {row.status}", hint="a command is reported once")
    row.status = "succeeded" if result.ok else "failed"
    row.message, row.result, row.finished_at = result.message, result.data, datetime.now(UTC)
    return row


def list_for_device(session: Session, device_id: str, limit: int) -> list[DeviceCommandRow]:
    return list(
        session.scalars(
            select(DeviceCommandRow)
            .where(DeviceCommandRow.device_id == device_id)
            .order_by(DeviceCommandRow.created_at.desc())
            .limit(limit)
        )
    )
