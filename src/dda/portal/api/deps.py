"""Typed dependencies every router uses: the portal, a DB session, the caller and its permission.

Every route declares exactly one permission with ``Depends(require(Permission.X))`` (or
``Depends(public())``); the dependency authenticates, decides allow/deny from
:mod:`dda.portal.permissions` and leaves the caller on ``request.state`` for the audit log.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dda.core.errors import NotFound, PermissionDenied
from dda.portal.context import Portal
from dda.portal.permissions import Permission, Role, Scope, role_allows, scope_of
from dda.portal.principal import Principal
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.security import NotAuthenticated
from dda.portal.services import auth as auth_service

PERMISSION_ATTRIBUTE = "__dda_permission__"


class UseCaseNotFound(NotFound):
    """The use case does not exist, or the caller holds no role in it (the same answer for both)."""

    code = "usecase_not_found"


def get_portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


PortalDep = Annotated[Portal, Depends(get_portal)]


def get_session(portal: PortalDep) -> Iterator[Session]:
    """One transaction per request, committed when the endpoint returns (before the response)."""
    with portal.sessions() as session, session.begin():
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def client_address(request: Request, trusted_proxies: list[str]) -> str:
    """The peer's address; X-Forwarded-For is believed only when the peer is a configured proxy
    (otherwise anyone could rotate the header to dodge throttling)."""
    peer = request.client.host if request.client else "unknown"
    if not trusted_proxies or not _in_networks(peer, trusted_proxies):
        return peer
    forwarded = [
        part.strip() for part in request.headers.get("x-forwarded-for", "").split(",") if part.strip()
    ]
    # Walk from the nearest hop back; the first address that is not a trusted proxy is the client.
    for hop in reversed(forwarded):
        if not _in_networks(hop, trusted_proxies):
            return hop[:64]
    return peer


def _in_networks(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in networks:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


@dataclass(frozen=True)
class Access:
    """What a route gets from its permission check: who calls, in which use case, with which role."""

    principal: Principal
    permission: Permission
    usecase_id: str | None = None
    role: Role | None = None


def _authenticate(request: Request, portal: Portal) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated("this endpoint needs a login", hint="send 'Authorization: Bearer <token>'")
    with portal.session() as session:
        principal = auth_service.authenticate(session, portal, token)
    request.state.principal = principal
    return principal


def _decide(request: Request, portal: Portal, permission: Permission, principal: Principal) -> Access:
    scope = scope_of(permission)
    if scope is Scope.SELF:
        return Access(principal, permission, role=principal.global_role)
    if scope is Scope.GLOBAL:
        if not role_allows(principal.global_role, permission):
            raise PermissionDenied("this needs the PortalAdmin role", hint="ask a PortalAdmin")
        return Access(principal, permission, role=Role.PORTAL_ADMIN)
    usecase_id = request.path_params.get("usecase_id")
    if not isinstance(usecase_id, str):  # a use-case permission on a route without {usecase_id}
        raise PermissionDenied("this route is not scoped to a use case", hint="report this as a bug")
    role = principal.role_in(usecase_id)
    with portal.session() as session:
        exists = usecases_repo.by_id(session, usecase_id) is not None
    if role is None or not exists:
        raise UseCaseNotFound(f"no use case {usecase_id!r}", hint="pick one from GET /api/v1/usecases")
    request.state.usecase_id = usecase_id
    request.state.role = role
    if not role_allows(role, permission):
        raise PermissionDenied(
            f"your role {role.value} in this use case may not do this ({permission.value})",
            hint="ask a UseCaseAdmin of the use case for a role that allows it",
        )
    return Access(principal, permission, usecase_id, role)


def require(permission: Permission) -> Callable[..., Any]:
    """The dependency that declares and enforces ``permission`` on a route."""
    if scope_of(permission) is Scope.PUBLIC:
        return public()
    if scope_of(permission) is Scope.DEVICE:
        return device_auth()

    def dependency(request: Request, portal: PortalDep) -> Access:
        request.state.permission = permission
        principal = _authenticate(request, portal)
        return _decide(request, portal, permission, principal)

    setattr(dependency, PERMISSION_ATTRIBUTE, permission)
    return dependency


MAX_AGENT_BODY = 2 * 1024 * 1024


def device_auth(max_body: int = MAX_AGENT_BODY) -> Callable[..., Any]:
    """Declares a route for stations' agents: the request must be signed with an enrolled,
    unrevoked device key (dda.fleet_protocol); users' tokens are not accepted."""
    from dda.fleet_protocol import SIGNED_HEADERS
    from dda.portal.api.errors import PayloadTooLarge
    from dda.portal.services.fleet.agent_auth import authenticate_device

    async def dependency(request: Request, session: SessionDep) -> str:
        request.state.permission = Permission.DEVICE_AGENT
        declared = request.headers.get("content-length")
        bodyless = declared is None and request.method in ("GET", "HEAD")
        if not bodyless and (declared is None or not declared.isdigit() or int(declared) > max_body):
            raise PayloadTooLarge(f"a device request body must declare its length, at most {max_body} bytes",
                                  hint="send less per request")
        body = await request.body()
        if len(body) > max_body:
            raise PayloadTooLarge("the device request is larger than it declared", hint="send less")
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        headers = {name: request.headers[name] for name in SIGNED_HEADERS if name in request.headers}
        device_id = await run_in_threadpool(authenticate_device, session, headers, request.method, path, body)
        request.state.device_id = device_id
        request.state.device_body = body
        return device_id

    setattr(dependency, PERMISSION_ATTRIBUTE, Permission.DEVICE_AGENT)
    return dependency


def public() -> Callable[..., Any]:
    """Declares a route that needs no login (health, login itself)."""

    def dependency(request: Request) -> None:
        request.state.permission = Permission.PUBLIC

    setattr(dependency, PERMISSION_ATTRIBUTE, Permission.PUBLIC)
    return dependency


def declared_permissions(route: Any) -> list[Permission]:
    """The permissions a route declares (the deny-by-default test wants exactly one)."""
    found: list[Permission] = []
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant is not None else []
    while stack:
        dependant = stack.pop()
        permission = getattr(dependant.call, PERMISSION_ATTRIBUTE, None)
        if permission is not None:
            found.append(permission)
        stack.extend(dependant.dependencies)
    return found


def api_routes(app: Any) -> list[Any]:
    """Every API route of ``app`` with its effective path, methods and dependencies. FastAPI keeps
    included routers nested (``app.routes`` holds no APIRoute of theirs); this flattens them the
    way the OpenAPI generator does, so the deny-by-default checks see every route."""
    from fastapi.routing import APIRoute, iter_route_contexts

    return [rc for rc in iter_route_contexts(app.routes) if isinstance(rc.original_route, APIRoute)]
