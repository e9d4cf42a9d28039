"""Typed dependencies every router uses: the station, a DB session, the caller and its role.

Every route declares who may call it with exactly one of :data:`Public`, :data:`Viewer`,
:data:`Operator`, :data:`Admin` (or :class:`SignedImage` for image files): deny by default, and
``tests/station/test_roles.py`` fails for a route that declares none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from dda.core.errors import PermissionDenied
from dda.station.context import Station
from dda.station.db.models import User
from dda.station.services import auth as auth_service
from dda.station.services.access import client_address
from dda.station.services.auth import NotAuthenticated


def get_station(request: Request) -> Station:
    station: Station = request.app.state.station
    return station


StationDep = Annotated[Station, Depends(get_station)]


def get_session(station: StationDep) -> Iterator[Session]:
    """One transaction per request, committed when the endpoint returns (before the response)."""
    with station.sessions() as session, session.begin():
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def peer_address(request: Request, station: StationDep) -> str:
    """The real client address (forwarded headers only from trusted proxies)."""
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), station.trusted_proxies)


PeerAddress = Annotated[str, Depends(peer_address)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _user(request: Request, station: Station) -> User | None:
    token = _bearer(request)
    if token is None:
        return None
    with station.sessions() as session, session.begin():
        user = auth_service.authenticate(session, token, station.secret_key)
        session.expunge(user)
    return user


def current_user(request: Request, station: StationDep) -> User:
    """Any logged-in user. Not a permission declaration: routes use Viewer/Operator/Admin."""
    user = _user(request, station)
    if user is None:
        raise NotAuthenticated("this endpoint needs a login", hint="send 'Authorization: Bearer <token>'")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


class RoleCheck:
    """A dependency that lets through users with at least ``role`` (the route's permission)."""

    def __init__(self, role: str) -> None:
        self.role = role

    def __call__(self, request: Request, station: StationDep) -> User:
        user = current_user(request, station)
        if not auth_service.role_allows(user.role, self.role):
            raise PermissionDenied(
                f"this needs the {self.role} role; {user.username} is {user.role}",
                hint="ask an admin to change your role",
            )
        return user


class PublicAccess:
    """Declares a route open to anyone (login, liveness); the caller may still be logged in."""

    role = "public"

    def __call__(self, request: Request, station: StationDep) -> User | None:
        try:
            return _user(request, station)
        except NotAuthenticated:
            return None


class SignedImage(RoleCheck):
    """Viewer access, or a valid signed URL for exactly this file (``<img src>`` sends no header)."""

    def __init__(self, resource: Callable[[Request], str]) -> None:
        super().__init__("viewer")
        self.resource = resource

    def __call__(self, request: Request, station: StationDep) -> User | None:  # type: ignore[override]
        if _bearer(request) is None and station.signer.verify(
            self.resource(request), request.query_params.get("exp"), request.query_params.get("sig")
        ):
            return None
        if _bearer(request) is None and "sig" in request.query_params:
            raise NotAuthenticated("the image link has expired or is not valid", hint="reload the page")
        return super().__call__(request, station)

    @classmethod
    def depends(cls, resource: Callable[[Request], str]) -> Any:
        return Depends(cls(resource))


Public = Annotated[User | None, Depends(PublicAccess())]
Viewer = Annotated[User, Depends(RoleCheck("viewer"))]
Operator = Annotated[User, Depends(RoleCheck("operator"))]
Admin = Annotated[User, Depends(RoleCheck("admin"))]
