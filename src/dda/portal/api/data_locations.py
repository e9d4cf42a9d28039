"""Shared data locations: PortalAdmin CRUD and connection test; attach/detach to use cases
(read-only); members of a use case list the ones attached to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import Access, PortalDep, SessionDep, require
from dda.portal.db import DataLocation
from dda.portal.permissions import Permission
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.schemas.common import Page
from dda.portal.schemas.usecases import DataLocationCreate, DataLocationOut, DataLocationUpdate
from dda.portal.services import data_locations as service
from dda.portal.services import storage
from dda.portal.services.audit import AuditEntry

router = APIRouter(tags=["data-locations"])
BASE = "/api/v1/data-locations"
ATTACHED = "/api/v1/usecases/{usecase_id}/data-locations"
Manage = Annotated[Access, Depends(require(Permission.DATA_LOCATIONS_MANAGE))]


def to_out(row: DataLocation) -> DataLocationOut:
    return DataLocationOut(
        id=row.id,
        name=row.name,
        description=row.description,
        storage=storage.describe(row, row.id, service.OWNER_KIND),
        status=row.status,
        status_error=row.status_error,
        created_at=row.created_at,
    )


def _audit(
    request: Request, action: str, row_id: str, summary: Mapping[str, object], usecase: str = ""
) -> None:
    entry = AuditEntry(action=action, target_type="data_location", target_id=row_id, summary=dict(summary))
    entry.usecase_id = usecase or None
    record(request, entry)


@router.get(BASE, response_model=Page[DataLocationOut])
def list_locations(session: SessionDep, access: Manage) -> Page[DataLocationOut]:
    return Page(items=[to_out(row) for row in usecases_repo.data_locations(session)])


@router.post(BASE, response_model=DataLocationOut, status_code=201)
def create_location(
    body: DataLocationCreate, request: Request, portal: PortalDep, session: SessionDep, access: Manage
) -> DataLocationOut:
    row = service.create(session, portal, body)
    summary = {"name": row.name, "storage": storage.describe(row, row.id, service.OWNER_KIND)}
    _audit(request, "data_location.create", row.id, summary | {"status": row.status})
    return to_out(row)


@router.get(BASE + "/{location_id}", response_model=DataLocationOut)
def get_location(location_id: str, session: SessionDep, access: Manage) -> DataLocationOut:
    return to_out(service.get(session, location_id))


@router.patch(BASE + "/{location_id}", response_model=DataLocationOut)
def update_location(
    location_id: str,
    body: DataLocationUpdate,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Manage,
) -> DataLocationOut:
    row = service.get(session, location_id)
    changes = service.update(session, portal, row, body)
    _audit(request, "data_location.update", row.id, changes)
    return to_out(row)


@router.post(BASE + "/{location_id}/test", response_model=DataLocationOut)
def test_location(
    location_id: str, request: Request, portal: PortalDep, session: SessionDep, access: Manage
) -> DataLocationOut:
    row = service.get(session, location_id)
    service.check(portal, row)
    _audit(request, "data_location.test", row.id, {"status": row.status})
    return to_out(row)


@router.delete(BASE + "/{location_id}", status_code=204)
def delete_location(location_id: str, request: Request, session: SessionDep, access: Manage) -> None:
    row = service.get(session, location_id)
    _audit(request, "data_location.delete", row.id, {"name": row.name})
    service.delete(session, row)


@router.get(ATTACHED, response_model=Page[DataLocationOut])
def list_attached(
    usecase_id: str, session: SessionDep, access: Annotated[Access, Depends(require(Permission.DATA_VIEW))]
) -> Page[DataLocationOut]:
    return Page(items=[to_out(row) for row in usecases_repo.attached_locations(session, usecase_id)])


@router.put(ATTACHED + "/{location_id}", response_model=DataLocationOut)
def attach_location(
    usecase_id: str, location_id: str, request: Request, session: SessionDep, access: Manage
) -> DataLocationOut:
    row = service.get(session, location_id)
    added = service.attach(session, usecase_id, row)
    _audit(request, "data_location.attach", row.id, {"attached": added, "read_only": True}, usecase_id)
    return to_out(row)


@router.delete(ATTACHED + "/{location_id}", status_code=204)
def detach_location(
    usecase_id: str, location_id: str, request: Request, session: SessionDep, access: Manage
) -> None:
    service.detach(session, usecase_id, location_id)
    _audit(request, "data_location.detach", location_id, {}, usecase_id)
