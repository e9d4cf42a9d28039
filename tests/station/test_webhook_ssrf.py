"""Outbound requests (webhooks, model downloads) refuse internal targets unless the station's one
admin-owned allow-list has them; no caller-controlled switch (API field or plugin config) exists."""

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
        netsafe.check_target(url)
    assert "allow-list" in (caught.value.hint or "") and "/api/v1/settings" in (caught.value.hint or "")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x", "http://user:pw@example.com/"]
)
def test_other_schemes_and_credentials_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        netsafe.check_target(url, allow=["0.0.0.0/0", "::/0", "example.com", "x"])


def test_public_addresses_are_not_internal() -> None:
    for address in ("93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"):
        assert not netsafe.is_internal(ipaddress.ip_address(address))


def test_webhook_refuses_an_internal_target_at_setup_and_sends_nothing() -> None:
    recorder = Recorder()
    with recording_server(recorder) as base:
        plugin = build_output(WebhookOutputConfig(url=f"{base}/hook"), netsafe.OutboundAllowList())
        with pytest.raises(PermissionDenied):
            plugin.setup()
    assert recorder.requests == []


def test_request_goes_to_the_checked_address_with_the_original_host() -> None:
    recorder = Recorder()
    with recording_server(recorder) as base:
        port = base.rsplit(":", 1)[1]
        allow = netsafe.OutboundAllowList(["localhost"])
        plugin = build_output(WebhookOutputConfig(url=f"http://localhost:{port}/h"), allow)
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
                netsafe.safe_stream(client, "GET", f"{base}/r"),
            ):
                pass
    assert len(recorder.requests) == 1


def test_model_download_from_an_internal_url_is_refused(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/api/v1/models", json={"url": "http://127.0.0.1:9/model.tar.gz"}, headers=auth)
    assert response.status_code == 403 and "internal address" in response.json()["detail"]
    response = client.post("/api/v1/models", json={"url": "file:///etc/passwd"}, headers=auth)
    assert response.status_code == 422


@pytest.mark.parametrize("switch", [True, False])
def test_a_webhook_config_cannot_carry_its_own_ssrf_switch(switch: bool) -> None:
    with pytest.raises(ValueError) as caught:
        WebhookOutputConfig.model_validate(
            {"type": "webhook", "url": "https://example.com/h", "allow_private": switch}
        )
    message = str(caught.value)
    assert "allow_private" in message and "outbound allow-list" in message and "/api/v1/settings" in message


def test_the_webhook_follows_the_admins_allow_list_and_nothing_else(
    client: TestClient, auth: dict[str, str], installed_model: tuple[str, str]
) -> None:
    """Through the API, as an operator would wire a line: the old switch is refused with the fix
    named; a loopback receiver is refused at start (never contacted) until an admin lists it; the
    list is read live, so taking the host off stops the deliveries of a running workflow."""
    source = client.post(
        "/api/v1/image-sources",
        json={"name": "cam", "config": {"type": "synthetic", "width": 64, "height": 48, "seed": 1}},
        headers=auth,
    ).json()["id"]
    recorder = Recorder()
    with recording_server(recorder) as base:
        body = {
            "name": "line-ssrf",
            "source_id": source,
            "model_name": "bright",
            "model_version": "1",
            "triggers": [],
            "outputs": [{"type": "webhook", "url": f"{base}/hook", "retries": 0, "allow_private": True}],
        }
        old = client.post("/api/v1/workflows", json=body, headers=auth)
        assert old.status_code == 422 and "outbound allow-list" in old.text, old.text
        del body["outputs"][0]["allow_private"]  # type: ignore[index]
        workflow = client.post("/api/v1/workflows", json=body, headers=auth).json()["id"]
        refused = client.post(f"/api/v1/workflows/{workflow}/start", headers=auth)
        assert refused.status_code == 403 and "/api/v1/settings" in refused.text, refused.text
        assert recorder.requests == []

        assert (
            client.put("/api/v1/settings", json={"outbound_allow": ["127.0.0.1"]}, headers=auth).status_code
            == 200
        )
        assert client.post(f"/api/v1/workflows/{workflow}/start", headers=auth).json()["state"] == "running"
        assert client.post(f"/api/v1/workflows/{workflow}/run", headers=auth).status_code == 200
        assert recorder.received.wait(30) and len(recorder.requests) == 1

        client.put("/api/v1/settings", json={"outbound_allow": []}, headers=auth)
        assert client.post(f"/api/v1/workflows/{workflow}/run", headers=auth).status_code == 200
        client.post(f"/api/v1/workflows/{workflow}/stop", headers=auth)  # outputs drain before stop returns
    assert len(recorder.requests) == 1  # the second result was refused before any connection


def test_old_webhook_configs_lose_the_switch_when_the_database_is_migrated(station_settings: object) -> None:
    import sqlalchemy as sa

    from dda.core.db.migrations import downgrade
    from dda.station.database import MIGRATIONS, migrate, open_database
    from dda.station.db.models import ImageSource, Workflow

    url = station_settings.station_database_url  # type: ignore[attr-defined]
    migrate(url)
    downgrade(url, MIGRATIONS, "0003_station_security")
    engine, sessions = open_database(url)
    old = [
        {"type": "webhook", "url": "http://10.0.0.5/h", "allow_private": True},
        {"type": "mqtt", "topic": "t"},
    ]
    with sessions() as session, session.begin():  # the schema is the same at 0003 and at head
        source = ImageSource(name="s", type="synthetic", config={"type": "synthetic"})
        session.add(source)
        session.flush()
        session.add(Workflow(name="w", source_id=source.id, model_name="m", model_version="1", outputs=old))
    migrate(url)
    with engine.connect() as connection:
        stored = connection.execute(sa.select(Workflow.outputs)).scalar_one()
    engine.dispose()
    assert stored == [{"type": "webhook", "url": "http://10.0.0.5/h"}, {"type": "mqtt", "topic": "t"}]
    from dda.station.services.configs import load_output

    assert load_output(stored[0]).type == "webhook"  # loads again; the start names the allow-list fix
