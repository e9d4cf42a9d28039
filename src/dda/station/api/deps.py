"""Typed dependencies every router uses: the station, a DB session, the current user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from dda.station.context import Station
from dda.station.db.models import User
from dda.station.services import auth as auth_service
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


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    # <img src> cannot send headers: image endpoints also take ?access_token=
    if request.method == "GET" and request.url.path.endswith("/image"):
        return request.query_params.get("access_token") or None
    return None


def current_user(request: Request, station: StationDep) -> User:
    token = _bearer(request)
    if token is None:
        raise NotAuthenticated("this endpoint needs a login", hint="send 'Authorization: Bearer <token>'")
    with station.sessions() as session, session.begin():
        user = auth_service.authenticate(session, token, station.secret_key)
        session.expunge(user)
    return user


CurrentUser = Annotated[User, Depends(current_user)]
