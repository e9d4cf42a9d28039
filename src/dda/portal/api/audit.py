"""The audit log: query (filters + keyset pages) and CSV export; PortalAdmin sees every row,
a UseCaseAdmin the rows of their use case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from dda.portal.api.deps import Access, PortalDep, require
from dda.portal.permissions import Permission
from dda.portal.repositories.audit import AuditFilter
from dda.portal.schemas.audit import AuditEventOut, Outcome
from dda.portal.schemas.common import Id, Limit, Page
from dda.portal.services import audit_query

router = APIRouter(tags=["audit"])
Cursor = Annotated[str | None, Query(max_length=20, description="next_cursor of the previous page")]


def _filters(
    user: Annotated[str | None, Query(max_length=128, description="actor id or username")] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="an action, or a prefix ending in '.' or '*'")
    ] = None,
    outcome: Outcome | None = None,
    since: Annotated[datetime | None, Query(description="from this time (inclusive; UTC if no zone)")] = None,
    until: Annotated[datetime | None, Query(description="before this time (UTC if no zone)")] = None,
) -> AuditFilter:
    return AuditFilter(
        user=user,
        action=action,
        outcome=outcome,
        since=audit_query.as_utc(since, "since"),
        until=audit_query.as_utc(until, "until"),
    )


FilterDep = Annotated[AuditFilter, Depends(_filters)]


@router.get("/api/v1/audit", response_model=Page[AuditEventOut])
def query_all(
    portal: PortalDep,
    filters: FilterDep,
    access: Annotated[Access, Depends(require(Permission.AUDIT_VIEW_ALL))],
    usecase_id: Annotated[Id | None, Query(description="only this use case's rows")] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Page[AuditEventOut]:
    return audit_query.page(portal, audit_query.with_usecase(filters, usecase_id), cursor, limit)


@router.get("/api/v1/audit/export", response_class=StreamingResponse)
def export_all(
    portal: PortalDep,
    filters: FilterDep,
    access: Annotated[Access, Depends(require(Permission.AUDIT_VIEW_ALL))],
    usecase_id: Annotated[Id | None, Query(description="only this use case's rows")] = None,
) -> StreamingResponse:
    rows = audit_query.export_csv(portal, audit_query.with_usecase(filters, usecase_id))
    return _csv(rows, "audit.csv")


@router.get("/api/v1/usecases/{usecase_id}/audit", response_model=Page[AuditEventOut])
def query_usecase(
    usecase_id: str,
    portal: PortalDep,
    filters: FilterDep,
    access: Annotated[Access, Depends(require(Permission.AUDIT_VIEW))],
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Page[AuditEventOut]:
    return audit_query.page(portal, audit_query.with_usecase(filters, usecase_id), cursor, limit)


@router.get("/api/v1/usecases/{usecase_id}/audit/export", response_class=StreamingResponse)
def export_usecase(
    usecase_id: str,
    portal: PortalDep,
    filters: FilterDep,
    access: Annotated[Access, Depends(require(Permission.AUDIT_VIEW))],
) -> StreamingResponse:
    rows = audit_query.export_csv(portal, audit_query.with_usecase(filters, usecase_id))
    return _csv(rows, f"audit-{usecase_id}.csv")


def _csv(rows: object, filename: str) -> StreamingResponse:
    return StreamingResponse(
        rows,  # type: ignore[arg-type]
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
