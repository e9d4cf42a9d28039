"""One-time enrollment tokens and device enrollment (the seed's device registration, without IoT Core).

A token is random, shown once, stored hashed, expires, and is spent by the first enrollment. The
station sends its new Ed25519 public key and a signature over the token made with the private
key (proof of possession); it gets its device id and the use case's package-signing keys back.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select
from sqlalchemy.orm import Session

from dda.core.errors import Conflict, InvalidInput
from dda.fleet_protocol import EnrollRequest, EnrollResponse
from dda.portal.context import Portal
from dda.portal.db import Device, EnrollmentToken, UseCase
from dda.portal.security import NotAuthenticated, token_hash
from dda.portal.services import signing_keys

TOKEN_PREFIX = "ddae_"  # noqa: S105 - marks enrollment tokens, not a secret
HEARTBEAT_INTERVAL_S = 30


def create_token(
    session: Session,
    usecase_id: str,
    *,
    created_by: str,
    ttl_s: int,
    device_name: str | None,
    group: str,
    tags: list[str],
) -> tuple[EnrollmentToken, str]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    row = EnrollmentToken(
        usecase_id=usecase_id,
        token_hash=token_hash(token),
        device_name=device_name,
        group=group,
        tags=tags,
        created_by=created_by,
        expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s),
    )
    session.add(row)
    session.flush()
    return row, token


def _check_proof(public_key_pem: str, token: str, proof: str) -> None:
    try:
        key = load_pem_public_key(public_key_pem.encode())
        signature = base64.b64decode(proof, validate=True)
    except ValueError as exc:
        raise InvalidInput("the device public key or proof is malformed", hint="enroll again") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput("the device key must be Ed25519", hint="use `dda station enroll`")
    try:
        key.verify(signature, b"enroll\n" + token.encode())
    except InvalidSignature as exc:
        raise NotAuthenticated("the enrollment proof does not verify", hint="enroll again") from exc


def _unique_name(session: Session, usecase_id: str, wanted: str) -> str:
    taken = set(session.scalars(select(Device.name).where(Device.usecase_id == usecase_id)))
    if wanted not in taken:
        return wanted
    for n in range(2, 10_000):
        candidate = f"{wanted[:56]}-{n}"
        if candidate not in taken:
            return candidate
    raise Conflict("too many devices with this name", hint="give the device another name")


def enroll(session: Session, portal: Portal, body: EnrollRequest) -> EnrollResponse:
    row = session.scalar(
        select(EnrollmentToken).where(EnrollmentToken.token_hash == token_hash(body.token)).with_for_update()
    )
    now = datetime.now(UTC)
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise NotAuthenticated("the enrollment token is unknown, used or expired", hint="ask for a new token")
    _check_proof(body.public_key_pem, body.token, body.proof)
    usecase = session.get(UseCase, row.usecase_id)
    if usecase is None:
        raise NotAuthenticated("the enrollment token is unknown, used or expired", hint="ask for a new token")
    wanted = row.device_name or body.name or (body.facts.hostname or "station")[:63]
    device = Device(
        usecase_id=row.usecase_id,
        name=_unique_name(session, row.usecase_id, wanted),
        group=row.group,
        tags=list(row.tags),
        public_key_pem=body.public_key_pem,
        facts=body.facts.model_dump(),
    )
    session.add(device)
    session.flush()
    row.used_at, row.device_id = now, device.id
    signing_keys.active_key(session, portal, row.usecase_id)
    keys = [k.public_pem for k in signing_keys.keys_of(session, row.usecase_id)]
    return EnrollResponse(
        device_id=device.id,
        usecase_id=usecase.id,
        usecase_name=usecase.name,
        name=device.name,
        package_signing_keys=keys,
        heartbeat_interval_s=HEARTBEAT_INTERVAL_S,
    )
