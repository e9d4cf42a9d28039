from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from dda.station.api.deps import PeerAddress, Public, SessionDep, StationDep, Viewer
from dda.station.repositories import users as users_repo
from dda.station.schemas.auth import (
    ApiTokenInfo,
    ApiTokenOut,
    AuthStatus,
    Credentials,
    NewAdmin,
    NewApiToken,
    TokenOut,
    UserOut,
)
from dda.station.services import auth as auth_service
from dda.station.services.access import is_loopback

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
DbId = Annotated[int, Path(ge=1, le=auth_service.MAX_DB_INT)]


@router.get("/status")
def auth_status(_: Public, session: SessionDep, address: PeerAddress) -> AuthStatus:
    required = auth_service.setup_required(session)
    return AuthStatus(setup_required=required, setup_code_required=required and not is_loopback(address))


@router.post("/setup", status_code=status.HTTP_201_CREATED)
def setup(
    data: NewAdmin, _: Public, session: SessionDep, station: StationDep, address: PeerAddress
) -> UserOut:
    """Create the first admin: from the station itself, or with the setup code from its console."""
    if auth_service.setup_required(session):
        station.setup_guard.check(address, data.setup_code)
    user = auth_service.create_first_admin(session, data.username, data.password.get_secret_value())
    station.setup_guard.consume()
    return UserOut.model_validate(user)


@router.post("/login")
def login(
    data: Credentials, _: Public, session: SessionDep, station: StationDep, address: PeerAddress
) -> TokenOut:
    station.login_throttle.check(data.username, address)
    try:
        user = auth_service.check_login(session, data.username, data.password.get_secret_value())
    except auth_service.NotAuthenticated:
        station.login_throttle.failed(data.username, address)
        raise
    station.login_throttle.succeeded(data.username, address)
    token = auth_service.issue_access_token(user, station.secret_key)
    return TokenOut(access_token=token, expires_in=int(auth_service.ACCESS_TOKEN_TTL.total_seconds()))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(user: Viewer, session: SessionDep) -> Response:
    """End every login session of this user (API tokens stay valid; revoke those separately)."""
    auth_service.revoke_sessions(session, session.merge(user), api_tokens=False)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me")
def me(user: Viewer) -> UserOut:
    return UserOut.model_validate(user)


@router.get("/tokens")
def list_tokens(user: Viewer, session: SessionDep) -> list[ApiTokenInfo]:
    return [ApiTokenInfo.model_validate(t) for t in users_repo.tokens_of(session, user.id)]


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def create_token(data: NewApiToken, user: Viewer, session: SessionDep) -> ApiTokenOut:
    owner = session.merge(user)
    ttl = timedelta(days=data.expires_in_days) if data.expires_in_days is not None else None
    row, token = auth_service.create_api_token(session, owner, data.name, ttl)
    return ApiTokenOut(id=row.id, name=row.name, token=token, expires_at=row.expires_at)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: DbId, user: Viewer, session: SessionDep) -> Response:
    auth_service.revoke_api_token(session, user, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
