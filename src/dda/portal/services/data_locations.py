"""Shared data locations (the seed's Data Account): read-only stores of datasets that several use
cases may attach. A PortalAdmin manages them; members of a use case see the ones attached to it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dda.core.errors import Conflict, NotFound
from dda.core.storage import ObjectStore
from dda.portal.context import Portal
from dda.portal.db import DataLocation, UseCaseDataLocation
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.schemas.usecases import DataLocationCreate, DataLocationUpdate
from dda.portal.services import storage

OWNER_KIND = "data-locations"


def get(session: Session, location_id: str) -> DataLocation:
    row = usecases_repo.data_location(session, location_id)
    if row is None:
        raise NotFound(f"no data location {location_id!r}", hint="list them with GET /api/v1/data-locations")
    return row


def create(session: Session, portal: Portal, body: DataLocationCreate) -> DataLocation:
    _check_name_free(session, body.name)
    row = DataLocation(name=body.name, description=body.description)
    storage.apply_location(portal, row, body.s3)
    session.add(row)
    session.flush()
    check(portal, row)
    return row


def update(
    session: Session, portal: Portal, row: DataLocation, body: DataLocationUpdate
) -> dict[str, object]:
    changes: dict[str, object] = {}
    if body.name is not None and body.name != row.name:
        _check_name_free(session, body.name)
        changes["name"] = row.name = body.name
    if body.description is not None:
        changes["description"] = row.description = body.description
    if body.s3 is not None:
        storage.apply_location(portal, row, body.s3)
        changes["storage"] = storage.describe(row, row.id, OWNER_KIND)
        check(portal, row)
    return changes


def delete(session: Session, row: DataLocation) -> None:
    """Removes the record and its attachments; the objects at the location are kept."""
    session.delete(row)


def store(portal: Portal, row: DataLocation) -> ObjectStore:
    return storage.store_for(portal, OWNER_KIND, row, row.id)


def check(portal: Portal, row: DataLocation) -> None:
    """The connection test: the location answers a listing (use cases only read from it)."""
    try:
        store(portal, row).list("datasets/")
    except Exception as exc:  # botocore, OS and DDA errors alike: record the reason, no traceback
        row.status = "failed"
        row.status_error = storage.failure_reason(portal, row, exc)
        return
    row.status, row.status_error = "ready", None


def attach(session: Session, usecase_id: str, row: DataLocation) -> bool:
    """Attach read-only; False when it was attached already."""
    if usecases_repo.by_id(session, usecase_id) is None:
        raise NotFound(f"no use case {usecase_id!r}", hint="pick one from GET /api/v1/usecases")
    if session.get(UseCaseDataLocation, (usecase_id, row.id)) is not None:
        return False
    session.add(UseCaseDataLocation(usecase_id=usecase_id, data_location_id=row.id, read_only=True))
    session.flush()
    return True


def detach(session: Session, usecase_id: str, location_id: str) -> None:
    link = session.get(UseCaseDataLocation, (usecase_id, location_id))
    if link is None:
        raise NotFound(
            "that data location is not attached to this use case",
            hint="list attached ones with GET /api/v1/usecases/{usecase_id}/data-locations",
        )
    session.delete(link)


def attached_store(session: Session, portal: Portal, usecase_id: str, location_id: str) -> ObjectStore:
    """The store of a location attached to the use case, read-only (a location that is not attached
    answers 404, like one that does not exist)."""
    found = session.scalar(
        select(DataLocation)
        .join(UseCaseDataLocation, UseCaseDataLocation.data_location_id == DataLocation.id)
        .where(UseCaseDataLocation.usecase_id == usecase_id, DataLocation.id == location_id)
    )
    if found is None:
        raise NotFound(f"no data location {location_id!r} attached to this use case", hint="attach it first")
    return storage.ReadOnlyStore(store(portal, found))


def _check_name_free(session: Session, name: str) -> None:
    if session.scalar(select(DataLocation).where(DataLocation.name == name)) is not None:
        raise Conflict(f"a data location named {name!r} exists", hint="pick another name")
