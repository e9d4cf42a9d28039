"""Login, refresh, logout, the caller's profile and own password."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from dda.core.errors import DDAError
from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import Access, PortalDep, SessionDep, client_address, public, require
from dda.portal.context import Portal
from dda.portal.permissions import Permission, Role, permissions_of
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.repositories import users as users_repo
from dda.portal.schemas.auth import (
    ChangePasswordRequest,
    LoginRequest,
    LogoutRequest,
    MeResponse,
    OidcInfo,
    RefreshRequest,
    TokenResponse,
    UseCaseRole,
)
from dda.portal.security import NotAuthenticated
from dda.portal.services import auth as auth_service
from dda.portal.services import oidc as oidc_service
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
    auth_service.require_login(access.principal, "log out")
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
    auth_service.require_login(access.principal, "change a password")
    users_service.change_own_password(
        session, access.principal.user_id, body.current_password, body.new_password
    )


OIDC_COOKIE = "dda_oidc_login"
OIDC_PATH = "/api/v1/auth/oidc"


def _redirect_uri(request: Request, portal: Portal) -> str:
    oidc = oidc_service.settings_of(portal)
    if oidc.redirect_url:
        return oidc.redirect_url
    base = portal.settings.portal.public_url or str(request.base_url)
    return base.rstrip("/") + OIDC_PATH + "/callback"


@router.get("/oidc", response_model=OidcInfo, dependencies=[Depends(public())])
def oidc_info(portal: PortalDep) -> OidcInfo:
    """Whether the login page should offer "log in with your company account"."""
    enabled = portal.settings.portal.oidc is not None
    return OidcInfo(enabled=enabled, login_url=OIDC_PATH + "/login" if enabled else None)


@router.get("/oidc/login", dependencies=[Depends(public())])
def oidc_login(
    request: Request,
    portal: PortalDep,
    return_to: Annotated[str | None, Query(max_length=512)] = None,
) -> RedirectResponse:
    """Start: redirect to the provider, with state, nonce and PKCE kept in an encrypted cookie."""
    begun = oidc_service.start(portal, _redirect_uri(request, portal), return_to)
    response = RedirectResponse(begun.authorization_url, status_code=302)
    response.set_cookie(
        OIDC_COOKIE,
        begun.cookie,
        max_age=oidc_service.STATE_TTL_S,
        path=OIDC_PATH,
        httponly=True,
        secure=request.url.scheme == "https"
        or (portal.settings.portal.public_url or "").startswith("https:"),
        samesite="lax",
    )
    return response


@router.get("/oidc/callback", response_model=TokenResponse, dependencies=[Depends(public())])
def oidc_callback(
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    """The provider sends the browser back here; the portal's own tokens come out (as JSON, or in
    the URL fragment of ``return_to`` for the web UI)."""
    entry = AuditEntry(action="auth.oidc_login", target_type="user")
    record(request, entry)
    if error or not code or not state:
        raise NotAuthenticated(
            f"the provider did not log you in ({(error or 'no code')[:64]})", hint="start the login again"
        )
    pair, return_to = oidc_service.finish(
        session, portal, code=code, state=state, cookie=request.cookies.get(OIDC_COOKIE)
    )
    entry.actor_id, entry.actor_name, entry.target_id = pair.user.id, pair.user.username, pair.user.id
    tokens = _tokens(pair)
    response: Response
    if return_to:
        fragment = urlencode(
            {
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "token_type": "bearer",
            }
        )
        response = RedirectResponse(f"{return_to}#{fragment}", status_code=303)
    else:
        response = JSONResponse(tokens.model_dump(mode="json"))
    response.delete_cookie(OIDC_COOKIE, path=OIDC_PATH)
    return response
