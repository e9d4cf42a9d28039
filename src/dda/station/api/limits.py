"""Per-route caps on request bodies, enforced while the body streams in (nothing buffered past them).

A declared ``Content-Length`` over the cap is refused before a byte is read; a chunked body is
counted as it arrives and refused (413) the moment it passes the cap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dda.station.memory import release_memory

MIB = 2**20
DEFAULT_BODY_LIMIT = 1 * MIB  # JSON bodies of the REST API
IMAGE_UPLOAD_LIMIT = 32 * MIB  # a 50-megapixel JPEG is about 20 MiB
KSERVE_BODY_LIMIT = 64 * MIB + 4 * MIB  # binary tensor + its JSON header
MODEL_PACKAGE_LIMIT = 4 * 1024 * MIB
TRIM_AFTER = 8 * MIB


@dataclass(frozen=True)
class BodyRule:
    method: str
    pattern: re.Pattern[str]
    limit: int


RULES: tuple[BodyRule, ...] = (
    BodyRule("POST", re.compile(r"^/api/v1/workflows/[^/]+/run$"), IMAGE_UPLOAD_LIMIT),
    BodyRule("POST", re.compile(r"^/api/v1/models$"), MODEL_PACKAGE_LIMIT),
    BodyRule("POST", re.compile(r"^/v2/models/[^/]+(/versions/[^/]+)?/infer$"), KSERVE_BODY_LIMIT),
)


def body_limit(method: str, path: str) -> int:
    for rule in RULES:
        if rule.method == method and rule.pattern.match(path):
            return rule.limit
    return DEFAULT_BODY_LIMIT


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its cap (FastAPI re-raises HTTP errors)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {_size(limit)} for this endpoint")


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit >= MIB else f"{limit // 1024} KiB"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send, limit)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, limited, send)
        finally:
            if received > TRIM_AFTER:
                release_memory()  # a large body's buffers go back to the OS, not to the next request


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    detail = BodyTooLarge(limit).detail
    body = {"error": detail} if scope["path"].startswith("/v2") else {"detail": detail, "code": "too_large"}
    response = JSONResponse(body, status_code=413, headers={"Connection": "close"})
    await response(scope, _drain_receive, send)


async def _drain_receive() -> Message:  # the refusal never reads the body
    return {"type": "http.disconnect"}
