"""The component registry of a use case (model components come from publishing jobs; station
components are registered here), package downloads, and the use case's package-signing keys
(public halves only: the private key never leaves the server)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from dda.core.errors import NotFound
from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import Access, PortalDep, SessionDep, require
from dda.portal.db import Component
from dda.portal.permissions import Permission
from dda.portal.schemas.common import Limit
from dda.portal.schemas.jobs import (
    ComponentOut,
    SigningKeyOut,
    StationComponentCreate,
    component_out,
    key_out,
)
from dda.portal.services import components as components_service
from dda.portal.services import signing_keys, storage
from dda.portal.services import usecases as usecases_service
from dda.portal.services.audit import AuditEntry

router = APIRouter(prefix="/api/v1/usecases/{usecase_id}", tags=["components"])
View = Annotated[Access, Depends(require(Permission.COMPONENT_VIEW))]


@router.get("/components", response_model=list[ComponentOut])
def list_components(
    usecase_id: str,
    session: SessionDep,
    access: View,
    kind: Annotated[str | None, Query(pattern="^(model|station)$")] = None,
    name: Annotated[str | None, Query(max_length=128)] = None,
    limit: Limit = 100,
) -> list[ComponentOut]:
    return [
        component_out(r)
        for r in components_service.list_components(session, usecase_id, kind=kind, name=name, limit=limit)
    ]


@router.post("/components", response_model=ComponentOut, status_code=201)
def create_station_component(
    usecase_id: str,
    body: StationComponentCreate,
    request: Request,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.COMPONENT_WRITE))],
) -> ComponentOut:
    row = components_service.add(
        session,
        Component(
            usecase_id=usecase_id,
            kind="station",
            created_by=access.principal.user_id,
            model_ref={},
            **body.model_dump(),
        ),
    )
    record(
        request,
        AuditEntry(
            action="component.create",
            target_type="component",
            target_id=row.id,
            summary={"name": row.name, "version": row.version, "kind": "station"},
        ),
    )
    return component_out(row)


@router.get("/components/{component_id}", response_model=ComponentOut)
def get_component(usecase_id: str, component_id: str, session: SessionDep, access: View) -> ComponentOut:
    return component_out(components_service.get(session, usecase_id, component_id))


@router.get("/components/{component_id}/package")
def download_package(
    usecase_id: str, component_id: str, portal: PortalDep, session: SessionDep, access: View
) -> StreamingResponse:
    """The signed package archive of a model component (stations verify it with the public key)."""
    row = components_service.get(session, usecase_id, component_id)
    if not row.package_key:
        raise NotFound("this component has no package", hint="station components ship no model package")
    usecase = usecases_service.get(session, usecase_id)
    handle = storage.store_for(portal, "usecases", usecase, usecase.id).open(row.package_key)
    filename = row.package_key.rsplit("/", 1)[-1]
    return StreamingResponse(
        iter(lambda: handle.read(1 << 20), b""),
        media_type="application/gzip",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Package-Sha256": row.package_sha256 or "",
        },
    )


@router.get("/signing-keys", response_model=list[SigningKeyOut])
def list_signing_keys(
    usecase_id: str, portal: PortalDep, session: SessionDep, access: View
) -> list[SigningKeyOut]:
    """The active public key (made now if the use case has none yet) and every retired one."""
    signing_keys.active_key(session, portal, usecase_id)
    return [key_out(r) for r in signing_keys.keys_of(session, usecase_id)]


@router.get("/signing-keys/active.pem", response_class=PlainTextResponse)
def active_public_key(usecase_id: str, portal: PortalDep, session: SessionDep, access: View) -> str:
    return signing_keys.active_key(session, portal, usecase_id).public_pem


@router.post("/signing-keys/rotate", response_model=SigningKeyOut, status_code=201)
def rotate_signing_key(
    usecase_id: str,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.USECASE_UPDATE))],
) -> SigningKeyOut:
    """A new active key; packages signed with the old one stay verifiable with its public key."""
    row = signing_keys.rotate(session, portal, usecase_id)
    record(
        request,
        AuditEntry(
            action="signing_key.rotate",
            target_type="signing_key",
            target_id=row.fingerprint,
            summary={"fingerprint": row.fingerprint},
        ),
    )
    return key_out(row)
