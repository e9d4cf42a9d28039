"""Authenticating signed device requests: signature, clock, replay (nonce store), revocation."""

from __future__ import annotations

import secrets
import time

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dda.fleet_protocol import HEADER_DEVICE, MAX_CLOCK_SKEW_S, BadSignature, verify_request
from dda.portal.db import Device, DeviceNonce
from dda.portal.security import NotAuthenticated

REFUSED = "the device request is not authentic"


def authenticate_device(
    session: Session, headers: dict[str, str], method: str, path_and_query: str, body: bytes
) -> str:
    """The device id of a signed request; NotAuthenticated (401) for forged, replayed, stale or
    revoked.

    The check runs in a short transaction of its own, before the request's session has touched
    the database: on SQLite a write lock taken in the request's transaction (the nonce) would be
    held for the whole request and queue every other device behind it, and a second connection
    taken while the request's one is held could run the pool dry. A nonce spent by a request that
    then fails stays spent (the agent signs its retry with a new one)."""
    device_id = headers.get(HEADER_DEVICE, "")
    if not device_id or len(device_id) > 64:
        raise NotAuthenticated(REFUSED, hint="sign the request with the device key (dda station agent)")
    now = time.time()
    with Session(session.get_bind()) as own, own.begin():
        device = own.get(Device, device_id)
        if device is None or device.revoked_at is not None:
            raise NotAuthenticated(REFUSED, hint="the device is unknown or revoked: enroll it again")
        try:
            nonce, _ = verify_request(device.public_key_pem, headers, method, path_and_query, body, now)
        except BadSignature as exc:
            raise NotAuthenticated(REFUSED, hint=str(exc)) from exc
        _insert_nonce(own, device_id, nonce, int(now))
    return device_id


def _insert_nonce(session: Session, device_id: str, nonce: str, now: int) -> None:
    """One statement (INSERT .. ON CONFLICT DO NOTHING RETURNING; no savepoint): no row returned
    means the nonce was spent before, i.e. a replay."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(DeviceNonce)
        .values(device_id=device_id, nonce=nonce, seen_at=now)
        .on_conflict_do_nothing(index_elements=["device_id", "nonce"])
        .returning(DeviceNonce.nonce)  # rowcount is not reliable here (psycopg answers -1)
    )
    if session.execute(statement).first() is None:
        raise NotAuthenticated(REFUSED, hint="a request was replayed")
    # Forget nonces older than the clock window (a request that old is refused by its timestamp);
    # now and then, not on every request.
    if secrets.randbelow(512) == 0:
        session.execute(delete(DeviceNonce).where(DeviceNonce.seen_at < now - 2 * MAX_CLOCK_SKEW_S))
