"""Login, refresh, logout, the caller's profile and own password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from dda.core.errors import DDAError
from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import Access, PortalDep, SessionDep, client_address, public, require
from dda.portal.permissions import Permission, Role, permissions_of
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.repositories import users as users_repo
from dda.portal.schemas.auth import (
    ChangePasswordRequest,
    LoginRequest,
    LogoutRequest,
    MeResponse,
    RefreshRequest,
    TokenResponse,
    UseCaseRole,
)
from dda.portal.services import auth as auth_service
from dda.portal.services import users as users_service
from dda.portal.services.audit import AuditEntry

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def _tokens(pair: auth_service.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        expires_at=pair.access_expires_at,
        refresh_token=pair.refresh_token,
        refresh_expires_at=pair.refresh_expires_at,
    )


@router.post("/login", response_model=TokenResponse, dependencies=[Depends(public())])
def login(body: LoginRequest, request: Request, portal: PortalDep, session: SessionDep) -> TokenResponse:
    client = client_address(request, portal.settings.portal.trusted_proxies)
    entry = AuditEntry(action="auth.login", target_type="user", target_id=body.username.strip().lower()[:64])
    record(request, entry)
    try:
        pair = auth_service.login(session, portal, body.username, body.password, client)
    except DDAError:
        entry.actor_name = body.username.strip().lower()[:64]
        raise
    entry.actor_id, entry.actor_name = pair.user.id, pair.user.username
    return _tokens(pair)


@router.post("/refresh", response_model=TokenResponse, dependencies=[Depends(public())])
def refresh(body: RefreshRequest, request: Request, portal: PortalDep, session: SessionDep) -> TokenResponse:
    entry = AuditEntry(action="auth.refresh", target_type="user")
    record(request, entry)
    pair = auth_service.refresh(session, portal, body.refresh_token)
    entry.actor_id, entry.actor_name, entry.target_id = pair.user.id, pair.user.username, pair.user.id
    return _tokens(pair)


@router.post("/logout", status_code=204)
def logout(
    body: LogoutRequest, session: SessionDep, access: Annotated[Access, Depends(require(Permission.SELF))]
) -> None:
    auth_service.logout(session, body.refresh_token, access.principal.user_id, everywhere=body.everywhere)


@router.get("/me", response_model=MeResponse)
def me(session: SessionDep, access: Annotated[Access, Depends(require(Permission.SELF))]) -> MeResponse:
    principal = access.principal
    user = users_repo.by_id(session, principal.user_id)
    assert user is not None  # authenticated a moment ago
    roles = []
    for usecase_id, role in sorted(principal.roles.items()):
        usecase = usecases_repo.by_id(session, usecase_id)
        if usecase is not None:
            roles.append(
                UseCaseRole(
                    usecase_id=usecase_id,
                    usecase_name=usecase.name,
                    role=role.value,
                    permissions=permissions_of(role),
                )
            )
    return MeResponse(
        id=user.id,
        username=user.username,
        email=user.email,
        display_name=user.display_name,
        is_portal_admin=principal.is_portal_admin,
        roles=roles,
        global_permissions=permissions_of(Role.PORTAL_ADMIN) if principal.is_portal_admin else [],
    )


@router.post("/password", status_code=204)
def change_password(
    body: ChangePasswordRequest,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.SELF))],
) -> None:
    users_service.change_own_password(
        session, access.principal.user_id, body.current_password, body.new_password
    )
