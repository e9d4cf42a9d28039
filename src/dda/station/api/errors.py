"""The one place DDAError subclasses become HTTP responses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dda.core.errors import (
    Conflict,
    DDAError,
    InvalidInput,
    NotFound,
    NotLanded,
    PermissionDenied,
    Unavailable,
)
from dda.core.logging import get_logger
from dda.station.plugins.sources import NoFrameYet
from dda.station.services.auth import NotAuthenticated

log = get_logger(__name__)

STATUS: list[tuple[type[DDAError], int]] = [
    (NotAuthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (NoFrameYet, 409),  # before Unavailable: the source works but had no image
    (InvalidInput, 422),
    (NotLanded, 501),
    (Unavailable, 503),
]


def status_for(exc: DDAError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DDAError)
    status = status_for(exc)
    if status >= 500:
        log.warning("request failed", path=request.url.path, error=exc.message, hint=exc.hint)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if request.url.path.startswith("/v2"):
        return JSONResponse({"error": exc.message}, status_code=status, headers=headers)  # KServe's shape
    body = {"detail": exc.message, "code": exc.code, "hint": exc.hint}
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DDAError, _handle)
