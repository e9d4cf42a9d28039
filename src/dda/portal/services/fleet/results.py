"""Results uploaded by stations: content-addressed, idempotent writes into the use case's store
(a re-sent file is a no-op, never a duplicate), one row per capture, listed per device."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dda.core.errors import InvalidInput, NotFound
from dda.core.storage import ObjectStore
from dda.fleet_protocol import ResultRecord
from dda.portal.db import Device, DeviceResult

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_FILE_BYTES = 32 * 1024 * 1024  # a 20-MP JPEG fits
CAPTURE_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def result_prefix(device_id: str, captured_at: datetime, capture_id: str) -> str:
    day = captured_at.astimezone(UTC)
    return f"results/{device_id}/{day:%Y}/{day:%m}/{day:%d}/{capture_id}"


def store_file(
    store: ObjectStore, device: Device, capture_id: str, name: str, data: bytes, *, sha256: str, at: datetime
) -> bool:
    """Write one file of a result (content-checked); True when it was new, False for a re-send."""
    if not CAPTURE_ID.match(capture_id) or not FILE_NAME.match(name) or ".." in name:
        raise InvalidInput("bad capture id or file name", hint="names are letters, digits, '.', '_' and '-'")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise InvalidInput("the file does not match its sha256", hint="send it again")
    key = f"{result_prefix(device.id, at, capture_id)}/{name}"
    if store.exists(key):
        return False
    store.put_bytes(key, data)
    return True


def record(session: Session, store: ObjectStore, device: Device, body: ResultRecord) -> bool:
    """The result's row, once its files are all there; True when new (a re-send changes nothing)."""
    prefix = result_prefix(device.id, body.captured_at, body.capture_id)
    missing = [f.name for f in body.files if not store.exists(f"{prefix}/{f.name}")]
    if missing:
        raise InvalidInput(f"files not uploaded yet: {', '.join(missing)}", hint="upload them first")
    existing = _row(session, device.id, body.capture_id)
    if existing is not None:
        if body.review is not None:  # a re-send after a review on the station carries its label
            existing.review = body.review
        return False
    try:
        with session.begin_nested():
            session.add(
                DeviceResult(
                    usecase_id=device.usecase_id,
                    device_id=device.id,
                    capture_id=body.capture_id,
                    captured_at=body.captured_at,
                    verdict=body.verdict,
                    label=body.label,
                    anomaly_score=body.anomaly_score,
                    review=body.review,
                    prefix=prefix,
                    files=[f.name for f in body.files],
                )
            )
    except IntegrityError:
        return False  # a retry raced its original: that one made the row
    return True


def _row(session: Session, device_id: str, capture_id: str) -> DeviceResult | None:
    return session.scalar(
        select(DeviceResult).where(DeviceResult.device_id == device_id, DeviceResult.capture_id == capture_id)
    )


def list_for_device(
    session: Session, device_id: str, *, verdict: str | None, before: datetime | None, limit: int
) -> list[DeviceResult]:
    query = select(DeviceResult).where(DeviceResult.device_id == device_id)
    if verdict:
        query = query.where(DeviceResult.verdict == verdict)
    if before is not None:
        query = query.where(DeviceResult.captured_at < before)
    return list(session.scalars(query.order_by(DeviceResult.captured_at.desc()).limit(limit)))


def get(session: Session, device_id: str, result_id: str) -> DeviceResult:
    row = session.get(DeviceResult, result_id)
    if row is None or row.device_id != device_id:
        raise NotFound(f"no result {result_id!r} from this device", hint="list the device's results")
    return row
