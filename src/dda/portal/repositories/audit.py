"""Queries on the audit log: filtered, newest first, keyset-paged by ``seq``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from dda.portal.db import AuditEvent


@dataclass(frozen=True)
class AuditFilter:
    usecase_id: str | None = None
    user: str | None = None  # an actor id or a username
    action: str | None = None  # exact, or a prefix ending in '.' / '*' ("dataset." = every dataset action)
    outcome: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _filtered(f: AuditFilter) -> Select[AuditEvent]:
    query = select(AuditEvent)
    if f.usecase_id is not None:
        query = query.where(AuditEvent.usecase_id == f.usecase_id)
    if f.user:
        query = query.where(or_(AuditEvent.actor_id == f.user, AuditEvent.actor_name == f.user))
    if f.action:
        if f.action.endswith(("*", ".")):
            prefix = f.action.rstrip("*")
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(AuditEvent.action.like(f"{escaped}%", escape="\\"))
        else:
            query = query.where(AuditEvent.action == f.action)
    if f.outcome:
        query = query.where(AuditEvent.outcome == f.outcome)
    if f.since is not None:
        query = query.where(AuditEvent.at >= f.since)
    if f.until is not None:
        query = query.where(AuditEvent.at < f.until)
    return query


def page(session: Session, f: AuditFilter, *, before_seq: int | None, limit: int) -> list[AuditEvent]:
    """Up to ``limit`` rows matching ``f`` with ``seq < before_seq``, newest first."""
    query = _filtered(f)
    if before_seq is not None:
        query = query.where(AuditEvent.seq < before_seq)
    return list(session.scalars(query.order_by(AuditEvent.seq.desc()).limit(limit)))
