from __future__ import annotations

from fastapi import APIRouter, Request, status

from dda.station.api.deps import CurrentUser, SessionDep, StationDep
from dda.station.schemas.auth import (
    ApiTokenOut,
    AuthStatus,
    Credentials,
    NewAdmin,
    NewApiToken,
    TokenOut,
    UserOut,
)
from dda.station.services import auth as auth_service

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.get("/status")
def auth_status(session: SessionDep) -> AuthStatus:
    return AuthStatus(setup_required=auth_service.setup_required(session))


@router.post("/setup", status_code=status.HTTP_201_CREATED)
def setup(data: NewAdmin, session: SessionDep) -> UserOut:
    user = auth_service.create_first_admin(session, data.username, data.password.get_secret_value())
    return UserOut.model_validate(user)


@router.post("/login")
def login(data: Credentials, request: Request, session: SessionDep, station: StationDep) -> TokenOut:
    address = request.client.host if request.client else "?"
    station.login_throttle.check(data.username, address)
    try:
        user = auth_service.check_login(session, data.username, data.password.get_secret_value())
    except auth_service.NotAuthenticated:
        station.login_throttle.failed(data.username, address)
        raise
    station.login_throttle.succeeded(data.username, address)
    token = auth_service.issue_access_token(user, station.secret_key)
    return TokenOut(access_token=token, expires_in=int(auth_service.ACCESS_TOKEN_TTL.total_seconds()))


@router.get("/me")
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def create_token(data: NewApiToken, user: CurrentUser, session: SessionDep) -> ApiTokenOut:
    owner = session.merge(user)
    row, token = auth_service.create_api_token(session, owner, data.name)
    return ApiTokenOut(id=row.id, name=row.name, token=token)
