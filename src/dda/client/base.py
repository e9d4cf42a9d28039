"""The HTTP core every area module uses: base URL, bearer token with one automatic refresh, and
errors that carry the server's detail and hint."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from dda.core.errors import DDAError

M = TypeVar("M", bound=BaseModel)


class PortalError(DDAError):
    """The portal answered with an error: ``status`` is the HTTP status, ``code`` the portal's code
    (e.g. ``not_authenticated``, ``usecase_not_found``), ``hint`` what to do about it."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str = "error",
        hint: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response) -> PortalError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        detail = body.get("detail") if isinstance(body, dict) else None
        if isinstance(detail, list):  # request validation: name the fields
            detail = "; ".join(
                f"{'.'.join(map(str, p.get('loc', [])))}: {p.get('msg', '')}" for p in detail[:5]
            )
        message = str(detail or f"HTTP {response.status_code} from the portal")
        retry = response.headers.get("retry-after")
        return cls(
            response.status_code,
            message,
            code=str(body.get("code", "error")) if isinstance(body, dict) else "error",
            hint=body.get("hint") if isinstance(body, dict) else None,
            retry_after=int(retry) if retry and retry.isdigit() else None,
        )


@dataclass
class Session:
    """What a login yields; the CLI keeps it in a file (mode 0600)."""

    url: str
    access_token: str
    refresh_token: str | None = None
    access_expires_at: datetime | None = None


class Http:
    """One httpx client plus the current credentials."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        refresh_token: str | None = None,
        timeout: float = 30.0,
        on_tokens: Callable[[Session], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.refresh_token = refresh_token
        self.on_tokens = on_tokens
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def set_tokens(self, access: str, refresh: str | None, expires_at: datetime | None = None) -> None:
        self.token, self.refresh_token = access, refresh
        if self.on_tokens is not None:
            self.on_tokens(Session(self.base_url, access, refresh, expires_at))

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            return self._client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise PortalError(
                0,
                f"cannot reach the portal at {self.base_url} ({type(exc).__name__})",
                code="unreachable",
                hint="check the URL and that `dda portal serve` runs there",
            ) from exc

    def request(self, method: str, path: str, *, retry_on_401: bool = True, **kwargs: Any) -> httpx.Response:
        response = self._send(method, path, **kwargs)
        if response.status_code == 401 and retry_on_401 and self.refresh_token and self._refresh():
            response = self._send(method, path, **kwargs)
        if response.status_code >= 400:
            raise PortalError.from_response(response)
        return response

    def _refresh(self) -> bool:
        """Trade the refresh token for a new pair (rotation); False when it is no longer valid."""
        response = self._client.post("/api/v1/auth/refresh", json={"refresh_token": self.refresh_token})
        if response.status_code != 200:
            self.refresh_token = None
            return False
        body = response.json()
        self.set_tokens(
            body["access_token"], body["refresh_token"], datetime.fromisoformat(body["expires_at"])
        )
        return True

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    def model(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return model.model_validate(self.json(method, path, **kwargs))

    def models(self, model: type[M], method: str, path: str, **kwargs: Any) -> list[M]:
        return [model.model_validate(item) for item in self.json(method, path, **kwargs)]

    def pages(self, model: type[M], path: str, *, limit: int = 100, **params: Any) -> Iterator[M]:
        """Every item of a keyset-paged list, fetching page after page."""
        cursor: str | None = None
        while True:
            query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
            body = self.json("GET", path, params=query)
            for item in body["items"]:
                yield model.model_validate(item)
            cursor = body.get("next_cursor")
            if not cursor:
                return
