"""Appending to the hash-chained audit log and checking the chain.

Each row's hash covers its own fields and the previous row's hash, so changing, removing or
reordering a row breaks every later link; ``dda portal audit verify`` names the first broken one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dda.core.errors import Conflict
from dda.core.signing import SignatureError, canonical_json, sign_bytes, verify_bytes
from dda.portal.context import Portal
from dda.portal.db import AuditEvent, AuditHead

GENESIS = "0" * 64
_SECRET_KEYS = re.compile(r"pass|secret|token|key|credential|authorization|cookie", re.IGNORECASE)
MAX_SUMMARY_VALUE = 200
_SECRET_VALUES = (
    (re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"), "***"),  # JWTs
    (re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+"), r"\1 ***"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S), "***"),
    (re.compile(r"://[^/@\s:]+:[^/@\s]+@"), "://***@"),  # credentials in URLs
)


@dataclass
class AuditEntry:
    action: str
    outcome: str = "success"
    target_type: str = ""
    target_id: str = ""
    usecase_id: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    actor_id: str | None = None
    actor_name: str = ""
    role: str = ""
    status_code: int = 0
    request_id: str = ""
    client_address: str = ""


def scrub(summary: dict[str, Any]) -> dict[str, Any]:
    """A change summary safe to keep: secrets masked (by key name at any depth, and values that look
    like tokens, keys or URL credentials), long values cut, nesting flattened to text."""
    clean: dict[str, Any] = {}
    for key, value in list(summary.items())[:50]:
        name = str(key)[:64]
        if _SECRET_KEYS.search(name):
            clean[name] = "***"
        elif value is None or isinstance(value, bool | int | float):
            clean[name] = value
        else:
            masked = _mask(value, 0)
            text = masked if isinstance(masked, str) else json.dumps(masked, default=str, sort_keys=True)
            clean[name] = _mask_text(text)[:MAX_SUMMARY_VALUE]
    return clean


def _mask(value: Any, depth: int) -> Any:
    if depth > 5:
        return "..."
    if isinstance(value, dict):
        return {
            str(k)[:64]: "***" if _SECRET_KEYS.search(str(k)) else _mask(v, depth + 1)
            for k, v in list(value.items())[:50]
        }
    if isinstance(value, list | tuple | set):
        return [_mask(v, depth + 1) for v in list(value)[:50]]
    if isinstance(value, str):
        return _mask_text(value)
    return value


def _mask_text(text: str) -> str:
    for pattern, replacement in _SECRET_VALUES:
        text = pattern.sub(replacement, text)
    return text


def row_hash(row: AuditEvent) -> str:
    payload = {
        "seq": row.seq,
        "at": row.at.astimezone(UTC).isoformat(),
        "actor_id": row.actor_id,
        "actor_name": row.actor_name,
        "role": row.role,
        "usecase_id": row.usecase_id,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "outcome": row.outcome,
        "status_code": row.status_code,
        "request_id": row.request_id,
        "client_address": row.client_address,
        "summary": row.summary,
        "prev_hash": row.prev_hash,
    }
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def _lock_head(session: Session) -> AuditHead:
    """The head row, locked for this transaction. The first statement is a write so that SQLite
    takes its write lock before reading (two appenders never read the same head), and PostgreSQL
    holds the row lock until commit; a missing head row is made once (a racing maker is tolerated)."""
    touched = session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_seq=AuditHead.last_seq))
    if getattr(touched, "rowcount", 1) == 0:
        try:
            with session.begin_nested():
                session.add(
                    AuditHead(id=1, last_seq=0, last_hash=GENESIS, checkpoint_seq=0, checkpoint_hash=GENESIS)
                )
        except IntegrityError:
            pass  # another process made it first; the locking read below waits for it
    head = session.scalar(
        select(AuditHead).where(AuditHead.id == 1).with_for_update().execution_options(populate_existing=True)
    )
    assert head is not None
    return head


def append(session: Session, entry: AuditEntry) -> AuditEvent:
    """Append one row in the caller's transaction (the head row lock serialises concurrent appends)."""
    head = _lock_head(session)
    row = AuditEvent(
        seq=head.last_seq + 1,
        at=datetime.now(UTC),
        actor_id=entry.actor_id,
        actor_name=entry.actor_name[:128],
        role=entry.role,
        usecase_id=entry.usecase_id,
        action=entry.action[:64],
        target_type=entry.target_type[:32],
        target_id=entry.target_id[:128],
        outcome=entry.outcome,
        status_code=entry.status_code,
        request_id=entry.request_id[:64],
        client_address=entry.client_address[:64],
        summary=scrub(entry.summary),
        prev_hash=head.last_hash,
    )
    row.hash = row_hash(row)
    session.add(row)
    head.last_seq = row.seq
    head.last_hash = row.hash
    session.flush()
    return row


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows_checked: int
    first_broken_seq: int | None = None
    reason: str = ""


def checkpoint_key(portal: Portal) -> Ed25519PrivateKey:
    """The portal's Ed25519 key for purge checkpoints, derived from its secret key (so every API
    process and the CLI have it without a key file; a new DDA_SECRET_KEY makes old checkpoints
    fail to verify, which ``verify`` reports)."""
    return Ed25519PrivateKey.from_private_bytes(portal.derived_key("audit-checkpoint"))


def checkpoint_message(seq: int, hash_: str) -> bytes:
    return canonical_json({"format": "dda-audit-checkpoint/1", "hash": hash_, "seq": seq})


def verify_chain(
    session: Session, batch: int = 5000, *, public_key: Ed25519PublicKey | None = None
) -> ChainReport:
    """Walk the chain from the purge checkpoint (or the start) to the head. A checkpoint left by a
    purge must carry a valid signature of ``public_key`` (the portal's checkpoint key)."""
    head = session.get(AuditHead, 1)
    expected_prev = head.checkpoint_hash if head else GENESIS
    expected_seq = (head.checkpoint_seq if head else 0) + 1
    if head is not None and head.checkpoint_seq > 0:
        problem = _checkpoint_problem(head, public_key)
        if problem:
            return ChainReport(False, 0, head.checkpoint_seq, problem)
    checked = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.seq >= expected_seq).order_by(AuditEvent.seq).limit(batch)
            )
        )
        for row in rows:
            if row.seq != expected_seq:
                return ChainReport(False, checked, expected_seq, f"row {expected_seq} is missing")
            if row.prev_hash != expected_prev:
                return ChainReport(False, checked, row.seq, "its prev_hash does not match the row before")
            if row_hash(row) != row.hash:
                return ChainReport(False, checked, row.seq, "its content does not match its hash")
            expected_prev, expected_seq, checked = row.hash, row.seq + 1, checked + 1
        if len(rows) < batch:
            break
    if head is not None and head.last_seq >= expected_seq:
        return ChainReport(False, checked, expected_seq, f"rows {expected_seq}..{head.last_seq} are missing")
    return ChainReport(True, checked)


def _checkpoint_problem(head: AuditHead, public_key: Ed25519PublicKey | None) -> str:
    if public_key is None:
        return "the purge checkpoint cannot be checked without the portal's checkpoint key"
    try:
        signature = base64.b64decode(head.checkpoint_signature, validate=True)
        verify_bytes(checkpoint_message(head.checkpoint_seq, head.checkpoint_hash), signature, [public_key])
    except (binascii.Error, SignatureError):
        return "the purge checkpoint's signature does not verify (forged checkpoint or another secret key)"
    return ""


@dataclass(frozen=True)
class PurgeReport:
    purged: int
    checkpoint_seq: int


def purge(session: Session, portal: Portal, older_than: datetime) -> PurgeReport:
    """Delete rows written before ``older_than``, keeping the chain verifiable: the last purged row's
    seq and hash become the head's checkpoint, signed with the portal's checkpoint key. The rows
    are verified before they go (a purge never blesses a tampered chain)."""
    head = _lock_head(session)
    last = session.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.at < older_than))
    if last is None or last <= head.checkpoint_seq:
        return PurgeReport(0, head.checkpoint_seq)
    key = checkpoint_key(portal)
    report = verify_chain(session, public_key=key.public_key())
    if not report.ok and (report.first_broken_seq or 0) <= last:
        raise Conflict(
            f"the audit chain is broken at row {report.first_broken_seq} ({report.reason}); not purging",
            hint="investigate with 'dda portal audit verify' first",
        )
    last_row = session.get(AuditEvent, last)
    assert last_row is not None
    deleted = session.execute(delete(AuditEvent).where(AuditEvent.seq <= last))
    head.checkpoint_seq = last
    head.checkpoint_hash = last_row.hash
    head.checkpoint_signature = base64.b64encode(
        sign_bytes(checkpoint_message(last, last_row.hash), key)
    ).decode()
    session.flush()
    return PurgeReport(int(getattr(deleted, "rowcount", 0) or 0), last)
