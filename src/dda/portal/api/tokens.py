"""API tokens for automation: create in a use case (shown once), list own, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import Access, SessionDep, require
from dda.portal.db import ApiToken
from dda.portal.permissions import Permission
from dda.portal.schemas.users import ApiTokenCreate, ApiTokenCreated, ApiTokenOut
from dda.portal.services import tokens as tokens_service
from dda.portal.services.audit import AuditEntry

router = APIRouter(tags=["tokens"])


def to_out(row: ApiToken) -> ApiTokenOut:
    return ApiTokenOut(
        id=row.id,
        name=row.name,
        usecase_id=row.usecase_id,
        role=row.role,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


@router.post("/api/v1/usecases/{usecase_id}/tokens", response_model=ApiTokenCreated, status_code=201)
def create_token(
    usecase_id: str,
    body: ApiTokenCreate,
    request: Request,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.TOKEN_MANAGE))],
) -> ApiTokenCreated:
    created = tokens_service.create(
        session,
        access.principal,
        usecase_id,
        name=body.name,
        role=body.role,
        expires_in_days=body.expires_in_days,
    )
    record(
        request,
        AuditEntry(
            action="token.create",
            target_type="api_token",
            target_id=created.row.id,
            summary={"name": body.name, "role": body.role, "expires_in_days": body.expires_in_days},
        ),
    )
    return ApiTokenCreated(**to_out(created.row).model_dump(), token=created.token)


@router.get("/api/v1/auth/tokens", response_model=list[ApiTokenOut])
def list_tokens(
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.SELF))],
    usecase_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[ApiTokenOut]:
    return [to_out(r) for r in tokens_service.list_own(session, access.principal, usecase_id)]


@router.delete("/api/v1/auth/tokens/{token_id}", status_code=204)
def revoke_token(
    token_id: str,
    request: Request,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.SELF))],
) -> None:
    row = tokens_service.revoke(session, access.principal, token_id)
    record(
        request,
        AuditEntry(
            action="token.revoke",
            target_type="api_token",
            target_id=row.id,
            usecase_id=row.usecase_id,
            summary={"name": row.name},
        ),
    )
