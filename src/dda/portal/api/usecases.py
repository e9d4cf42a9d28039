"""Use cases: list what the caller may see, create (PortalAdmin), read, update, re-onboard, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import Access, PortalDep, SessionDep, require
from dda.portal.db import UseCase
from dda.portal.permissions import Permission
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.schemas.common import Limit, Page
from dda.portal.schemas.usecases import (
    StorageChange,
    UseCaseCreate,
    UseCaseOut,
    UseCaseSettings,
    UseCaseSettingsPatch,
    UseCaseUpdate,
)
from dda.portal.services import storage
from dda.portal.services import usecases as usecases_service
from dda.portal.services.audit import AuditEntry

router = APIRouter(prefix="/api/v1/usecases", tags=["usecases"])


def to_out(row: UseCase, my_role: str | None = None) -> UseCaseOut:
    return UseCaseOut(
        id=row.id,
        name=row.name,
        description=row.description,
        cost_center=row.cost_center,
        owner_id=row.owner_id,
        storage=storage.describe(row, row.id, "usecases"),
        onboarding_status=row.onboarding_status,
        onboarding_error=row.onboarding_error,
        settings=row.settings,
        bytes_used=row.bytes_used,
        created_at=row.created_at,
        my_role=my_role,
    )


@router.get("", response_model=Page[UseCaseOut])
def list_usecases(
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.SELF))],
    cursor: Annotated[str | None, Query(max_length=63)] = None,
    limit: Limit = 100,
) -> Page[UseCaseOut]:
    principal = access.principal
    rows = usecases_repo.visible_to(
        session, principal.user_id, all_=principal.is_portal_admin, after=cursor, limit=limit + 1
    )
    if principal.api_token_id is not None:  # a token sees only its own use case
        rows = [r for r in rows if r.id in principal.roles]
    items = [to_out(r, (role.value if (role := principal.role_in(r.id)) else None)) for r in rows[:limit]]
    return Page(items=items, next_cursor=rows[limit - 1].name if len(rows) > limit else None)


@router.post("", response_model=UseCaseOut, status_code=201)
def create_usecase(
    body: UseCaseCreate,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.USECASE_CREATE))],
) -> UseCaseOut:
    row = usecases_service.create(session, portal, body, access.principal)
    record(
        request,
        AuditEntry(
            action="usecase.create",
            target_type="usecase",
            target_id=row.id,
            usecase_id=row.id,
            summary={
                "name": row.name,
                "storage": storage.describe(row, row.id, "usecases"),
                "onboarding": row.onboarding_status,
            },
        ),
    )
    return to_out(row, "PortalAdmin")


@router.get("/{usecase_id}", response_model=UseCaseOut)
def get_usecase(
    usecase_id: str, session: SessionDep, access: Annotated[Access, Depends(require(Permission.USECASE_VIEW))]
) -> UseCaseOut:
    return to_out(usecases_service.get(session, usecase_id), access.role.value if access.role else None)


@router.patch("/{usecase_id}", response_model=UseCaseOut)
def update_usecase(
    usecase_id: str,
    body: UseCaseUpdate,
    request: Request,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.USECASE_UPDATE))],
) -> UseCaseOut:
    row = usecases_service.get(session, usecase_id)
    changes = usecases_service.update(session, row, body)
    record(
        request, AuditEntry(action="usecase.update", target_type="usecase", target_id=row.id, summary=changes)
    )
    return to_out(row, access.role.value if access.role else None)


@router.post("/{usecase_id}/onboard", response_model=UseCaseOut)
def reonboard_usecase(
    usecase_id: str,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.USECASE_UPDATE))],
) -> UseCaseOut:
    row = usecases_service.get(session, usecase_id)
    usecases_service.onboard(portal, row)
    record(
        request,
        AuditEntry(
            action="usecase.onboard",
            target_type="usecase",
            target_id=row.id,
            summary={"onboarding": row.onboarding_status},
        ),
    )
    return to_out(row, access.role.value if access.role else None)


@router.get("/{usecase_id}/settings", response_model=UseCaseSettings)
def get_settings(
    usecase_id: str, session: SessionDep, access: Annotated[Access, Depends(require(Permission.USECASE_VIEW))]
) -> UseCaseSettings:
    return usecases_service.settings_of(usecases_service.get(session, usecase_id))


@router.patch("/{usecase_id}/settings", response_model=UseCaseSettings)
def update_settings(
    usecase_id: str,
    body: UseCaseSettingsPatch,
    request: Request,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.USECASE_UPDATE))],
) -> UseCaseSettings:
    row = usecases_service.get(session, usecase_id)
    changes = usecases_service.patch_settings(row, body)
    record(
        request,
        AuditEntry(action="usecase.settings", target_type="usecase", target_id=row.id, summary=changes),
    )
    return usecases_service.settings_of(row)


@router.put("/{usecase_id}/storage", response_model=UseCaseOut)
def change_storage(
    usecase_id: str,
    body: StorageChange,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.USECASE_CREATE))],
) -> UseCaseOut:
    """Move a use case that is not onboarded yet (pending/failed) to another location (PortalAdmin:
    the one who sets up locations and their credentials) and onboard it there."""
    row = usecases_service.get(session, usecase_id)
    usecases_service.change_storage(portal, row, body)
    summary = {"storage": storage.describe(row, row.id, "usecases"), "onboarding": row.onboarding_status}
    record(
        request,
        AuditEntry(
            action="usecase.storage",
            target_type="usecase",
            target_id=row.id,
            usecase_id=row.id,
            summary=summary,
        ),
    )
    return to_out(row, access.role.value if access.role else None)


@router.delete("/{usecase_id}", status_code=204)
def delete_usecase(
    usecase_id: str,
    request: Request,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.USECASE_DELETE))],
) -> None:
    row = usecases_service.get(session, usecase_id)
    record(
        request,
        AuditEntry(
            action="usecase.delete",
            target_type="usecase",
            target_id=row.id,
            usecase_id=row.id,
            summary={"name": row.name},
        ),
    )
    usecases_service.delete(session, row)
