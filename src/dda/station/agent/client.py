"""HTTP calls to the portal, each signed with the device key (dda.fleet_protocol)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dda.core.errors import Unavailable
from dda.fleet_protocol import sign_request


class PortalRefused(Unavailable):
    """The portal answered with an error status."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"the portal answered HTTP {status}: {detail}", hint="see the portal's audit log")
        self.status = status


class AgentClient:
    def __init__(
        self, base_url: str, device_id: str, key: Ed25519PrivateKey, timeout_s: float = 30.0
    ) -> None:
        self.device_id = device_id
        self._key = key
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s)

    def _headers(self, method: str, path: str, body: bytes, extra: dict[str, str] | None) -> dict[str, str]:
        headers = sign_request(self._key, self.device_id, method, path, body)
        if body:
            headers["content-type"] = "application/json"
        return headers | (extra or {})

    def call(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        try:
            response = self._http.request(
                method, path, content=body, headers=self._headers(method, path, body, headers)
            )
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"the portal is unreachable: {type(exc).__name__}", hint="the agent retries"
            ) from exc
        if response.status_code >= 400:
            raise PortalRefused(response.status_code, _detail(response))
        return response

    @contextmanager
    def stream(self, path: str, headers: dict[str, str]) -> Iterator[httpx.Response]:
        try:
            with self._http.stream("GET", path, headers=self._headers("GET", path, b"", headers)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise PortalRefused(response.status_code, _detail(response))
                yield response
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"the download broke off: {type(exc).__name__}", hint="the agent resumes it"
            ) from exc

    def close(self) -> None:
        self._http.close()


def _detail(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("detail", ""))[:500] if isinstance(body, dict) else str(body)[:200]
