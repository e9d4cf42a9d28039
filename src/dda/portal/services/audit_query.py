"""Reading the audit log: filtered keyset pages and a streamed CSV export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

from dda.core.errors import InvalidInput
from dda.portal.context import Portal
from dda.portal.db import AuditEvent
from dda.portal.repositories import audit as audit_repo
from dda.portal.repositories.audit import AuditFilter
from dda.portal.schemas.audit import AuditEventOut
from dda.portal.schemas.common import Page

CSV_COLUMNS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "role",
    "usecase_id",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "status_code",
    "request_id",
    "client_address",
    "summary",
    "prev_hash",
    "hash",
)
EXPORT_BATCH = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def to_out(row: AuditEvent) -> AuditEventOut:
    return AuditEventOut.model_validate({name: getattr(row, name) for name in CSV_COLUMNS})


def parse_cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise InvalidInput(
            f"cursor {cursor[:40]!r} is not one this API handed out", hint="pass next_cursor back"
        )
    return int(cursor)


def page(portal: Portal, f: AuditFilter, cursor: str | None, limit: int) -> Page[AuditEventOut]:
    before = parse_cursor(cursor)
    with portal.session() as session:
        rows = audit_repo.page(session, f, before_seq=before, limit=limit + 1)
        items = [to_out(row) for row in rows[:limit]]
    next_cursor = str(rows[limit - 1].seq) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    if isinstance(value, dict):
        text = json.dumps(value, sort_keys=True, default=str)
    elif hasattr(value, "isoformat"):
        text = value.isoformat()
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _line(values: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_cell(v) for v in values])
    return buffer.getvalue()


def export_csv(portal: Portal, f: AuditFilter) -> Iterator[str]:
    """Every matching row, newest first, one short transaction per batch (nothing held open while
    the client reads)."""
    yield _line(list(CSV_COLUMNS))
    before: int | None = None
    while True:
        with portal.session() as session:
            rows = audit_repo.page(session, f, before_seq=before, limit=EXPORT_BATCH)
            lines = [_line([getattr(row, name) for name in CSV_COLUMNS]) for row in rows]
        yield "".join(lines)
        if len(rows) < EXPORT_BATCH:
            return
        before = rows[-1].seq


def with_usecase(f: AuditFilter, usecase_id: str | None) -> AuditFilter:
    return replace(f, usecase_id=usecase_id)


def as_utc(value: datetime | None, name: str) -> datetime | None:
    """Query times: a time without a zone is UTC; one the database cannot hold is a 422."""
    if value is None:
        return None
    try:
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidInput(
            f"{name} is out of range", hint="give an ISO 8601 time such as 2026-01-31T00:00Z"
        ) from exc
