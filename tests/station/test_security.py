"""Station hardening: revocable sessions, strict JWTs, first setup, real-peer throttling, health
detail behind login, no server paths in errors, staging clean-up, signed image URLs, SSRF allow-list."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient

from dda.core.safe_image import encode_png
from dda.core.settings import Settings
from dda.station.app import create_app
from dda.station.db.models import ApiToken
from dda.station.paths import StationPaths
from dda.station.services.access import UrlSigner, client_address, parse_networks
from tests.station.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.station.http_util import Recorder, recording_server
from tests.station.modelkit import signing_keypair, solid

LOGIN = {"username": ADMIN_USER, "password": ADMIN_PASSWORD}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _login(client: TestClient, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return _bearer(response.json()["access_token"])


# ----------------------------------------------------------------------------- sessions


def test_password_reset_ends_logins_and_api_tokens(client: TestClient, auth: dict[str, str]) -> None:
    api_token = client.post("/api/v1/auth/tokens", json={"name": "plc"}, headers=auth).json()["token"]
    other = client.post(
        "/api/v1/users", json={"username": "op", "password": "op-password-1", "role": "admin"}, headers=auth
    ).json()
    admin_id = client.get("/api/v1/auth/me", headers=auth).json()["id"]
    reset = client.patch(
        f"/api/v1/users/{admin_id}",
        json={"password": "a-new-password"},
        headers=_login(client, "op", "op-password-1"),
    )
    assert reset.status_code == 200, reset.text
    assert client.get("/api/v1/auth/me", headers=auth).status_code == 401
    assert client.get("/api/v1/auth/me", headers=_bearer(api_token)).status_code == 401
    assert (
        client.get("/api/v1/auth/me", headers=_login(client, ADMIN_USER, "a-new-password")).status_code == 200
    )
    assert other["role"] == "admin"


def test_logout_and_disable_end_sessions(client: TestClient, auth: dict[str, str]) -> None:
    client.post(
        "/api/v1/users", json={"username": "vi", "password": "viewer-pass-1", "role": "viewer"}, headers=auth
    )
    viewer = _login(client, "vi", "viewer-pass-1")
    viewer_token = client.post("/api/v1/auth/tokens", json={"name": "t"}, headers=viewer).json()["token"]
    assert client.post("/api/v1/auth/logout", headers=viewer).status_code == 204
    assert client.get("/api/v1/auth/me", headers=viewer).status_code == 401
    assert (
        client.get("/api/v1/auth/me", headers=_bearer(viewer_token)).status_code == 200
    )  # API token lives on

    users = {u["username"]: u["id"] for u in client.get("/api/v1/users", headers=auth).json()}
    assert (
        client.patch(f"/api/v1/users/{users['vi']}", json={"disabled": True}, headers=auth).status_code == 200
    )
    assert client.get("/api/v1/auth/me", headers=_bearer(viewer_token)).status_code == 401
    refused = client.post("/api/v1/auth/login", json={"username": "vi", "password": "viewer-pass-1"})
    assert refused.status_code == 401 and "disabled" in refused.json()["detail"]
    last_admin = client.patch(f"/api/v1/users/{users[ADMIN_USER]}", json={"role": "viewer"}, headers=auth)
    assert last_admin.status_code == 409


def test_api_tokens_expire_and_can_be_listed_and_revoked(client: TestClient, auth: dict[str, str]) -> None:
    created = client.post(
        "/api/v1/auth/tokens", json={"name": "gw", "expires_in_days": 30}, headers=auth
    ).json()
    expires = datetime.fromisoformat(created["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    listed = client.get("/api/v1/auth/tokens", headers=auth).json()
    assert [t["name"] for t in listed] == ["gw"] and "token" not in listed[0]

    station = client.app.state.station  # type: ignore[attr-defined]
    with station.session() as session:
        session.get(ApiToken, created["id"]).expires_at = datetime.now(UTC) - timedelta(seconds=1)
    expired = client.get("/api/v1/auth/me", headers=_bearer(created["token"]))
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]

    second = client.post("/api/v1/auth/tokens", json={"name": "gw2"}, headers=auth).json()
    assert client.get("/api/v1/auth/me", headers=_bearer(second["token"])).status_code == 200
    assert client.delete(f"/api/v1/auth/tokens/{second['id']}", headers=auth).status_code == 204
    assert client.get("/api/v1/auth/me", headers=_bearer(second["token"])).status_code == 401
    assert client.delete(f"/api/v1/auth/tokens/{second['id']}", headers=auth).status_code == 404


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "1", "ver": 0},  # no exp
        {"sub": "abc", "ver": 0, "exp": 4102444800},
        {"sub": "99999999999999999999999", "ver": 0, "exp": 4102444800},
        {"sub": "-1", "ver": 0, "exp": 4102444800},
        {"sub": 1, "ver": 0, "exp": 4102444800},
        {"sub": "1", "exp": 4102444800},  # no token version
        {"sub": "1", "ver": "0", "exp": 4102444800},
        {"ver": 0, "exp": 4102444800},
    ],
)
def test_malformed_or_incomplete_jwts_are_401(client: TestClient, auth: dict[str, str], claims: dict) -> None:
    station = client.app.state.station  # type: ignore[attr-defined]
    token = jwt.encode({"aud": "dda-station", "iat": int(time.time()), **claims}, station.secret_key, "HS256")
    response = client.get("/api/v1/auth/me", headers=_bearer(token))
    assert response.status_code == 401, response.text


# ----------------------------------------------------------------------------- first setup


def test_first_setup_from_the_network_needs_the_console_code(
    station_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(station_settings, web_dist=None, configure_logs=False)
    with TestClient(app, client=("203.0.113.7", 40000)) as remote:
        code = re.search(r"setup code: ([0-9A-F]{8})", capsys.readouterr().err).group(1)  # type: ignore[union-attr]
        assert remote.get("/api/v1/auth/status").json() == {
            "setup_required": True,
            "setup_code_required": True,
        }
        body = {"username": "evil", "password": "long-enough-1"}
        assert remote.post("/api/v1/auth/setup", json=body).status_code == 403
        assert remote.post("/api/v1/auth/setup", json={**body, "setup_code": "00000000"}).status_code == 403
        # A forged X-Forwarded-For from an untrusted peer does not make it loopback.
        forged = remote.post("/api/v1/auth/setup", json=body, headers={"X-Forwarded-For": "127.0.0.1"})
        assert forged.status_code == 403
        ok = remote.post(
            "/api/v1/auth/setup", json={"username": "owner", "password": "long-enough-1", "setup_code": code}
        )
        assert ok.status_code == 201
        again = remote.post("/api/v1/auth/setup", json={**body, "setup_code": code})
        assert again.status_code == 409


# ----------------------------------------------------------------------------- throttling


def test_rotating_forwarded_for_does_not_bypass_the_throttle(
    client: TestClient, auth: dict[str, str]
) -> None:
    for i in range(5):
        headers = {"X-Forwarded-For": f"198.51.100.{i}"}
        bad = client.post("/api/v1/auth/login", json={**LOGIN, "password": "wrong-wrong"}, headers=headers)
        assert bad.status_code == 401
    blocked = client.post("/api/v1/auth/login", json=LOGIN, headers={"X-Forwarded-For": "198.51.100.99"})
    assert blocked.status_code == 401 and "too many" in blocked.json()["detail"]


def test_forwarded_for_is_believed_only_from_configured_proxies() -> None:
    proxies = parse_networks(["10.0.0.0/24"], "trusted_proxies")
    assert client_address("203.0.113.9", "1.2.3.4", proxies) == "203.0.113.9"  # not a proxy
    assert client_address("10.0.0.5", "1.2.3.4", proxies) == "1.2.3.4"
    assert (
        client_address("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.7", proxies) == "1.2.3.4"
    )  # right-most untrusted
    assert client_address("10.0.0.5", "not-an-ip", proxies) == "10.0.0.5"
    assert client_address("10.0.0.5", None, proxies) == "10.0.0.5"


def test_a_trusted_proxy_separates_its_clients(station_settings: Settings) -> None:
    settings = station_settings.model_copy(
        update={"station": station_settings.station.model_copy(update={"trusted_proxies": ["127.0.0.1"]})}
    )
    with TestClient(
        create_app(settings, web_dist=None, configure_logs=False), client=("127.0.0.1", 1)
    ) as client:
        client.post("/api/v1/auth/setup", json=LOGIN)
        for _ in range(5):
            client.post(
                "/api/v1/auth/login",
                json={**LOGIN, "password": "wrong-wrong"},
                headers={"X-Forwarded-For": "198.51.100.1"},
            )
        blocked = client.post("/api/v1/auth/login", json=LOGIN, headers={"X-Forwarded-For": "198.51.100.1"})
        assert blocked.status_code == 401
        other = client.post("/api/v1/auth/login", json=LOGIN, headers={"X-Forwarded-For": "198.51.100.2"})
        assert other.status_code == 200


# ----------------------------------------------------------------------------- health, paths, staging


def test_health_without_login_is_liveness_only(client: TestClient, auth: dict[str, str]) -> None:
    anonymous = client.get("/api/v1/health").json()
    assert anonymous == {"status": "ok", "live": True}
    detailed = client.get("/api/v1/health", headers=auth).json()
    assert {"counts", "workflows", "models", "version"} <= set(detailed)


def test_errors_never_show_absolute_server_paths(
    client: TestClient, auth: dict[str, str], station_paths: StationPaths, tmp_path: Path
) -> None:
    from dda.station.api.errors import scrub_paths

    root = str(station_paths.root)
    assert (
        scrub_paths(f"package {root}/downloads/x.tar.gz is bad", [root])
        == "package <station>/downloads/x.tar.gz is bad"
    )
    assert scrub_paths("no file /home/ops/secret/model.onnx here", []) == "no file .../model.onnx here"
    assert (
        scrub_paths("see GET /api/v1/models or https://h/tmp/x", [])
        == "see GET /api/v1/models or https://h/tmp/x"
    )
    # A real error whose text names files on the server: a package upload with no trusted key.
    response = client.post("/api/v1/models", files={"file": ("p.tar.gz", b"\x1f\x8b junk")}, headers=auth)
    assert response.status_code >= 400
    text = response.text
    assert root not in text and str(tmp_path) not in text and "/tmp/" not in text, text


def test_interrupted_installs_leave_no_staging_folders(
    station_settings: Settings, station_paths: StationPaths
) -> None:
    leftovers = [
        station_paths.downloads / "0123.tar.gz",
        station_paths.model_repo / ".dda-install-abc" / "package" / "manifest.json",
        station_paths.model_repo / "bright" / ".deleting-1-deadbeef" / "model.onnx",
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    with TestClient(create_app(station_settings, web_dist=None, configure_logs=False)):
        pass
    assert not any(p.exists() for p in leftovers)
    assert not any(station_paths.downloads.iterdir())
    assert [p.name for p in station_paths.model_repo.iterdir()] == ["bright"]


# ----------------------------------------------------------------------------- signed image URLs


def test_signed_image_urls_are_scoped_and_expire(
    client: TestClient, auth: dict[str, str], installed_model: tuple[str, str]
) -> None:
    source_id = client.get("/api/v1/image-sources", headers=auth).json()[0]["id"]
    workflow = client.post(
        "/api/v1/workflows",
        json={"name": "s", "source_id": source_id, "model_name": "bright", "model_version": "1"},
        headers=auth,
    ).json()
    result = client.post(
        f"/api/v1/workflows/{workflow['id']}/run",
        files={"file": ("i.png", encode_png(solid(200)))},
        headers=auth,
    ).json()
    urls = result["image_urls"]
    assert "access_token" not in urls["overlay"] and "sig=" in urls["overlay"]
    assert client.get(urls["overlay"]).headers["content-type"] == "image/jpeg"
    swapped = urls["overlay"].replace("kind=overlay", "kind=input")  # the signature names one file
    assert client.get(swapped).status_code == 401
    tampered = re.sub(r"sig=\w", "sig=0", urls["input"])
    assert client.get(tampered).status_code == 401
    other = re.sub(r"/results/\d+/", "/results/999/", urls["input"])
    assert client.get(other).status_code == 401

    signer = UrlSigner("k", ttl_s=-120)
    stale = signer.sign("/x", "result:1:input")
    exp, sig = re.search(r"exp=(\d+)&sig=(\w+)", stale).groups()  # type: ignore[union-attr]
    assert not signer.verify("result:1:input", exp, sig)
    fresh = UrlSigner("k")
    exp, sig = re.search(r"exp=(\d+)&sig=(\w+)", fresh.sign("/x", "result:1:input")).groups()  # type: ignore[union-attr]
    assert fresh.verify("result:1:input", exp, sig) and not fresh.verify("result:2:input", exp, sig)


# ----------------------------------------------------------------------------- outbound URLs


def test_refused_download_never_echoes_the_targets_bytes(
    client: TestClient, auth: dict[str, str], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from dda.cli.main import app as cli

    _, public = signing_keypair(tmp_path / "keys")
    CliRunner().invoke(cli, ["station", "trust-key", str(public)])
    secret = b"INTERNAL-ONLY-" + b"x" * 64
    recorder = Recorder(files={"/pkg.tar.gz": secret, "/p.html": b"<html>admin panel SECRET</html>"})
    with recording_server(recorder) as base:
        refused = client.post("/api/v1/models", json={"url": f"{base}/pkg.tar.gz"}, headers=auth)
        assert refused.status_code == 403 and recorder.requests == []  # never contacted
        client.put("/api/v1/settings", json={"outbound_allow": ["127.0.0.1"]}, headers=auth)
        for path, body in (("/pkg.tar.gz", secret), ("/p.html", b"SECRET")):
            response = client.post("/api/v1/models", json={"url": f"{base}{path}"}, headers=auth)
            assert response.status_code == 422, response.text
            assert body[:8].decode() not in response.text and body[:8].hex(" ") not in response.text
            assert "SECRET" not in response.text and "INTERNAL" not in response.text


def test_only_admins_own_the_allow_list(client: TestClient, auth: dict[str, str]) -> None:
    client.post(
        "/api/v1/users",
        json={"username": "opr", "password": "operator-pw1", "role": "operator"},
        headers=auth,
    )
    operator = _login(client, "opr", "operator-pw1")
    assert (
        client.put("/api/v1/settings", json={"outbound_allow": ["10.0.0.0/8"]}, headers=operator).status_code
        == 403
    )
    bad = client.put("/api/v1/settings", json={"outbound_allow": ["not a host!"]}, headers=auth)
    assert bad.status_code == 422
    assert client.put(
        "/api/v1/settings", json={"outbound_allow": ["nas.local", "10.0.0.0/8"]}, headers=auth
    ).json() == {"outbound_allow": ["nas.local", "10.0.0.0/8"]}
