"""Every mutating request and every login attempt leaves one audit row (or the rows its route
asked for), written after the route has answered, in its own transaction, whatever the outcome."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from dda.core.logging import get_logger
from dda.portal.api.deps import client_address
from dda.portal.context import Portal
from dda.portal.principal import Principal
from dda.portal.services import audit as audit_service
from dda.portal.services.audit import AuditEntry

log = get_logger(__name__)
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def record(request: Request, entry: AuditEntry) -> None:
    """Routes call this to describe what they did (target, change summary) in the audit log."""
    entries: list[AuditEntry] = getattr(request.state, "audit", None) or []
    entries.append(entry)
    request.state.audit = entries


def _outcome(status: int) -> str:
    if status < 400:
        return "success"
    return "denied" if status in (401, 403) else "failure"


def _complete(entry: AuditEntry, request: Request, status: int, request_id: str, client: str) -> AuditEntry:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None and entry.actor_id is None:
        entry.actor_id = principal.user_id
        entry.actor_name = principal.username + (" (api token)" if principal.api_token_id else "")
    role = getattr(request.state, "role", None)
    entry.role = entry.role or (role.value if role is not None else "")
    entry.usecase_id = entry.usecase_id or getattr(request.state, "usecase_id", None)
    if status >= 400 or not entry.outcome:
        entry.outcome = _outcome(status)
    entry.status_code = status
    entry.request_id = request_id
    entry.client_address = client
    return entry


def _default_entry(request: Request) -> AuditEntry:
    route = request.scope.get("route")
    name = getattr(route, "name", None) or request.url.path
    params = {k: v for k, v in request.path_params.items() if k != "usecase_id"}
    target_id = next(iter(params.values()), "") if params else ""
    printable = _CONTROL.sub("?", str(target_id))  # a crafted path (NUL, newlines) still gets its row
    return AuditEntry(action=str(name), target_id=printable[:128])


def _audited_by_default(path: str) -> bool:
    """User actions are; stations' telemetry (heartbeats, progress) is not: the agent routes record
    what matters (enrollment, final deployment outcomes) themselves."""
    return path.startswith("/api/") and not path.startswith("/api/v1/agent/")


def _write(portal: Portal, entries: list[AuditEntry]) -> None:
    with portal.session() as session:
        for entry in entries:
            audit_service.append(session, entry)


def install_audit(app: FastAPI) -> None:
    @app.middleware("http")
    async def audit_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else secrets.token_hex(8)
        request.state.request_id = request_id
        response = await call_next(request)
        response.headers["X-Request-ID"] = request_id
        entries: list[AuditEntry] = getattr(request.state, "audit", None) or []
        if not entries and request.method in MUTATING and _audited_by_default(request.url.path):
            entries = [_default_entry(request)]
        if entries:
            portal: Portal = request.app.state.portal
            client = client_address(request, portal.settings.portal.trusted_proxies)
            done = [_complete(e, request, response.status_code, request_id, client) for e in entries]
            try:
                await run_in_threadpool(_write, portal, done)
            except Exception as exc:  # the answer is given; never lose it, but say loudly
                log.error("audit write failed", request_id=request_id, error=type(exc).__name__)
        return response
