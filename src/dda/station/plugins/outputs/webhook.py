"""Webhook: POST each matching result as JSON, HMAC-SHA256 signed, with timeouts and retries."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator

from dda.core.errors import DDAError, Unavailable
from dda.core.logging import get_logger
from dda.station.netsafe import ALLOW_LIST_FIX, OutboundAllowList, check_target, safe_stream
from dda.station.plugins.outputs.base import OutputConfigBase, ResultEvent, Rule

SIGNATURE_HEADER = "X-DDA-Signature"
TIMESTAMP_HEADER = "X-DDA-Timestamp"
log = get_logger(__name__)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, timestamp + "." + body); the receiver recomputes it."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookOutputConfig(OutputConfigBase):
    title = "Webhook (HTTP POST)"
    type: Literal["webhook"] = "webhook"
    url: str = Field(..., min_length=8, max_length=2048, description="http(s) URL that receives results")
    secret: SecretStr | None = Field(None, description="Signs the body: header X-DDA-Signature")
    rule: Rule = "all"
    timeout_s: float = Field(5.0, gt=0, le=60)
    retries: int = Field(3, ge=0, le=10)
    backoff_s: float = Field(0.5, ge=0, le=60, description="First retry delay; doubles each retry")

    @model_validator(mode="before")
    @classmethod
    def _no_own_ssrf_switch(cls, data: Any) -> Any:
        # A config (written by an operator) once carried its own switch; only the admin's list counts now.
        if isinstance(data, dict) and "allow_private" in data:
            raise ValueError(
                "webhook outputs no longer take `allow_private`: remove it; a receiver on the local "
                f"network must be on the station's outbound allow-list instead ({ALLOW_LIST_FIX})"
            )
        return data

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError("the webhook URL must start with http:// or https://")
        return url


class WebhookOutput:
    def __init__(self, config: WebhookOutputConfig) -> None:
        self.config = config
        # The station's allow-list (build_output binds it); empty: public receivers only.
        self.outbound = OutboundAllowList()
        self._client: httpx.Client | None = None
        self._stop = threading.Event()

    def setup(self) -> None:
        # Refuse an internal target at start, not only at the first result.
        check_target(self.config.url, allow=self.outbound.get())
        self._stop.clear()
        self._client = httpx.Client(timeout=self.config.timeout_s)

    def _headers(self, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            "User-Agent": "dda-station",
        }
        if self.config.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.config.secret.get_secret_value(), timestamp, body)
        return headers

    def _post_once(self, body: bytes) -> None:
        assert self._client is not None
        with safe_stream(
            self._client,
            "POST",
            self.config.url,
            allow=self.outbound.get(),
            headers=self._headers(body),
            content=body,
        ) as response:
            if response.status_code >= 300:
                raise Unavailable(f"webhook answered HTTP {response.status_code}", hint="check the receiver")

    def emit(self, event: ResultEvent) -> None:
        if self._client is None or not event.matches(self.config.rule):
            return
        body = event.to_json()
        delay = self.config.backoff_s
        for attempt in range(self.config.retries + 1):
            try:
                self._post_once(body)
                return
            except (httpx.HTTPError, Unavailable) as exc:
                if attempt == self.config.retries or self._stop.wait(delay):
                    raise Unavailable(
                        f"webhook {self.config.url} failed after {attempt + 1} attempts: {exc}",
                        hint="check the receiver is up; results stay stored on the station",
                    ) from exc
                log.info("webhook retry", attempt=attempt + 1, error=str(exc))
                delay *= 2
            except DDAError:
                raise  # refused target: retrying cannot help

    def teardown(self) -> None:
        self._stop.set()
        if self._client is not None:
            self._client.close()
            self._client = None
