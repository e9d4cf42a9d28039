"""Per-use-case Ed25519 package-signing keys.

One active key per use case, made at onboarding or on first use; the private key is stored
Fernet-encrypted with the portal's derived key and never leaves the server; the public keys (the
active one and every retired one, so older packages stay verifiable) are served to stations.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from dda.core.errors import InvalidInput
from dda.core.signing import generate_keypair, load_private_key, public_key_fingerprint
from dda.portal.context import Portal
from dda.portal.db import SigningKey

PURPOSE = "package-signing-keys"


def _fernet(portal: Portal) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(portal.derived_key(PURPOSE)))


def keys_of(session: Session, usecase_id: str) -> list[SigningKey]:
    query = select(SigningKey).where(SigningKey.usecase_id == usecase_id)
    return list(session.scalars(query.order_by(SigningKey.created_at.desc(), SigningKey.id)))


def _create(session: Session, portal: Portal, usecase_id: str) -> SigningKey:
    private_pem, public_pem = generate_keypair()
    row = SigningKey(
        usecase_id=usecase_id,
        fingerprint=public_key_fingerprint(public_pem),
        public_pem=public_pem.decode(),
        private_encrypted=_fernet(portal).encrypt(private_pem).decode(),
        active=True,
    )
    session.add(row)
    session.flush()
    return row


def active_key(session: Session, portal: Portal, usecase_id: str) -> SigningKey:
    """The use case's active key, made now when it has none (lazily, on first use)."""
    for row in keys_of(session, usecase_id):
        if row.active:
            return row
    return _create(session, portal, usecase_id)


def private_key(portal: Portal, row: SigningKey) -> Ed25519PrivateKey:
    try:
        pem = _fernet(portal).decrypt(row.private_encrypted.encode())
    except InvalidToken as exc:
        raise InvalidInput(
            "the use case's signing key cannot be decrypted with this portal's secret key",
            hint="DDA_SECRET_KEY changed since the key was made: rotate the use case's signing key",
        ) from exc
    return load_private_key(pem)


def rotate(session: Session, portal: Portal, usecase_id: str) -> SigningKey:
    """Retire the active key (kept for verifying older packages) and make a new one."""
    for row in keys_of(session, usecase_id):
        if row.active:
            row.active = False
            row.retired_at = datetime.now(UTC)
    session.flush()
    return _create(session, portal, usecase_id)
