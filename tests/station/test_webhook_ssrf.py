"""Outbound requests (webhooks, model downloads) refuse internal targets unless allowed."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from fastapi.testclient import TestClient

from dda.core.errors import InvalidInput, PermissionDenied
from dda.station import netsafe
from dda.station.plugins.outputs import ResultEvent, build_output
from dda.station.plugins.outputs.webhook import WebhookOutputConfig
from tests.station.http_util import Recorder, recording_server

INTERNAL = [
    "http://127.0.0.1/hook",
    "http://127.8.9.10:8080/hook",
    "http://localhost/hook",  # a name: refused after DNS resolution
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.9/hook",
    "http://192.168.1.20/hook",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://[fe80::1]/hook",
    "http://224.0.0.251/hook",  # multicast
    "http://0.0.0.0/hook",
    "https://100.64.0.1/hook",  # carrier-grade NAT (shared address space)
]


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_targets_are_refused(url: str) -> None:
    with pytest.raises(PermissionDenied) as caught:
        netsafe.check_target(url, allow_private=False)
    assert "allow-list" in (caught.value.hint or "")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x", "http://user:pw@example.com/"]
)
def test_other_schemes_and_credentials_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        netsafe.check_target(url, allow_private=True)


def test_public_addresses_are_not_internal() -> None:
    for address in ("93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"):
        assert not netsafe.is_internal(ipaddress.ip_address(address))


def test_webhook_refuses_an_internal_target_at_setup_and_sends_nothing() -> None:
    recorder = Recorder()
    with recording_server(recorder) as base:
        plugin = build_output(WebhookOutputConfig(url=f"{base}/hook"))  # allow_private defaults to False
        with pytest.raises(PermissionDenied):
            plugin.setup()
    assert recorder.requests == []


def test_request_goes_to_the_checked_address_with_the_original_host() -> None:
    recorder = Recorder()
    with recording_server(recorder) as base:
        port = base.rsplit(":", 1)[1]
        plugin = build_output(WebhookOutputConfig(url=f"http://localhost:{port}/h", allow_private=True))
        plugin.setup()
        plugin.emit(ResultEvent({"prediction": "normal"}))
        plugin.teardown()
    assert recorder.requests[0][2]["Host"] == f"localhost:{port}"


def test_a_redirect_to_an_internal_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every redirect hop is checked again. No public server exists here, so the test lets loopback
    stand in for "public" (patching the policy for 127.0.0.0/8 only) and redirects to the cloud
    metadata address, which must still be refused before any connection is made to it."""
    real = netsafe.is_internal
    monkeypatch.setattr(netsafe, "is_internal", lambda a: not a.is_loopback and real(a))
    recorder = Recorder()
    with recording_server(recorder) as base:
        recorder.statuses.append(302)
        recorder.files["/r"] = b""
        with httpx.Client() as client:
            original = client.send

            def send(request: httpx.Request, **kwargs: object) -> httpx.Response:
                response = original(request, **kwargs)  # type: ignore[arg-type]
                if response.status_code == 302:
                    response.headers["location"] = "http://169.254.169.254/latest/meta-data/"
                return response

            client.send = send  # type: ignore[method-assign]
            with (
                pytest.raises(PermissionDenied),
                netsafe.safe_stream(client, "GET", f"{base}/r", allow_private=False),
            ):
                pass
    assert len(recorder.requests) == 1


def test_model_download_from_an_internal_url_is_refused(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/api/v1/models", json={"url": "http://127.0.0.1:9/model.tar.gz"}, headers=auth)
    assert response.status_code == 403 and "internal address" in response.json()["detail"]
    response = client.post("/api/v1/models", json={"url": "file:///etc/passwd"}, headers=auth)
    assert response.status_code == 422
