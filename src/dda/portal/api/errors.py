"""The one place domain errors become HTTP responses (and request validation stays a 4xx)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

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
from dda.portal.security import NotAuthenticated, Throttled

log = get_logger(__name__)


class PayloadTooLarge(DDAError):
    code = "payload_too_large"


class QuotaExceeded(DDAError):
    code = "quota_exceeded"


STATUS: list[tuple[type[DDAError], int]] = [
    (NotAuthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (QuotaExceeded, 507),
    (InvalidInput, 422),
    (Throttled, 429),
    (NotLanded, 501),
    (Unavailable, 503),
]


def status_for(exc: DDAError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DDAError)
    status = status_for(exc)
    if status >= 500:
        log.warning("request failed", path=request.url.path, code=exc.code, error=exc.message)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, Throttled):
        headers["Retry-After"] = str(exc.retry_after)
    body = {"detail": exc.message, "code": exc.code, "hint": exc.hint}
    return JSONResponse(body, status_code=status, headers=headers or None)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": str(err.get("msg", ""))[:300]}
        for err in exc.errors()[:20]
    ]
    body = {"detail": problems, "code": "invalid_request", "hint": "fix the fields named in detail"}
    return JSONResponse(body, status_code=422)


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    """A value the database refuses (PostgreSQL: NUL bytes in text, out-of-range numbers) is the
    caller's input, not a server fault."""
    body = {
        "detail": "the request holds a value the database cannot store (e.g. a NUL character)",
        "code": "invalid_input",
        "hint": "remove control characters and keep numbers in range",
    }
    return JSONResponse(body, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DDAError, _domain_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
