"""The one place DDAError subclasses become HTTP responses."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

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


_FS_PATH = re.compile(
    r"(?<![\w:/.])/(?:home|root|tmp|var|work|srv|opt|mnt|data|usr|etc|media|run|private|Users)"
    r"(?:/[^\s'\"/,;:)\]]+)+/?"
)


def scrub_paths(text: str, roots: list[str]) -> str:
    """Absolute server paths out of a message: known roots become ``<station>`` etc., any other
    absolute file-system path is cut to its last part."""
    for root, label in sorted(_labels(roots), key=lambda x: -len(x[0])):
        text = re.sub(r"(?<![\w:/.])" + re.escape(root.rstrip("/")) + r"(?![\w.-])", label, text)
    return _FS_PATH.sub(lambda m: ".../" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def _labels(roots: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for root in roots:
        pairs.append((root, "<station>"))
        resolved = str(Path(root).resolve())
        if resolved != root:
            pairs.append((resolved, "<station>"))
    pairs.append((tempfile.gettempdir(), "<tmp>"))
    return [(r, lbl) for r, lbl in pairs if len(r) > 1]


def _roots(request: Request) -> list[str]:
    station = getattr(request.app.state, "station", None)
    return [str(station.paths.root)] if station is not None else []


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DDAError)
    status = status_for(exc)
    if status >= 500:
        log.warning("request failed", path=request.url.path, error=exc.message, hint=exc.hint)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    roots = _roots(request)
    message = scrub_paths(exc.message, roots)
    if request.url.path.startswith("/v2"):
        return JSONResponse({"error": message}, status_code=status, headers=headers)  # KServe's shape
    hint = scrub_paths(exc.hint, roots) if exc.hint else exc.hint
    body = {"detail": message, "code": exc.code, "hint": hint}
    return JSONResponse(body, status_code=status, headers=headers)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    """A pydantic model validated inside a route (not by FastAPI): the caller's input, so 422."""
    assert isinstance(exc, ValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
    )
    return await _handle(request, InvalidInput(f"invalid request: {problems}", hint="fix the request body"))


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, without echoing the input (it may be NaN/inf, which JSON cannot carry, or big)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))}
        for e in exc.errors()[:20]
    ]
    if request.url.path.startswith("/v2"):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        return JSONResponse({"error": f"invalid request: {problems}"}, status_code=422)
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DDAError, _handle)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(ValidationError, _invalid)
