"""Local auth: first-run admin, login, JWT, API tokens, and that everything but health needs it."""

from __future__ import annotations

import jwt
from fastapi.testclient import TestClient
from sqlalchemy import select

from dda.station.db.models import ApiToken, User
from tests.station.conftest import ADMIN_PASSWORD, ADMIN_USER


def test_first_run_setup_then_login(client: TestClient) -> None:
    assert client.get("/api/v1/auth/status").json() == {"setup_required": True, "setup_code_required": False}
    created = client.post("/api/v1/auth/setup", json={"username": "ops", "password": "long-enough-1"})
    assert created.status_code == 201
    assert created.json()["username"] == "ops" and created.json()["is_admin"] is True
    assert client.get("/api/v1/auth/status").json() == {"setup_required": False, "setup_code_required": False}

    again = client.post("/api/v1/auth/setup", json={"username": "evil", "password": "long-enough-2"})
    assert again.status_code == 409
    assert "already set up" in again.json()["detail"]

    token = client.post("/api/v1/auth/login", json={"username": "ops", "password": "long-enough-1"}).json()
    assert token["token_type"] == "bearer"
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200 and me.json()["username"] == "ops"


def test_password_is_stored_as_argon2id(client: TestClient, auth: dict[str, str]) -> None:
    station = client.app.state.station  # type: ignore[attr-defined]
    with station.sessions() as session:
        user = session.scalar(select(User).where(User.username == ADMIN_USER))
        assert user.password_hash.startswith("$argon2id$")
        assert ADMIN_PASSWORD not in user.password_hash


def test_wrong_password_and_short_password(client: TestClient, auth: dict[str, str]) -> None:
    bad = client.post("/api/v1/auth/login", json={"username": ADMIN_USER, "password": "nope-nope-nope"})
    assert bad.status_code == 401
    unknown = client.post("/api/v1/auth/login", json={"username": "ghost", "password": "nope-nope-nope"})
    assert unknown.status_code == 401 and unknown.json()["detail"] == bad.json()["detail"]


def test_setup_refuses_a_short_password(client: TestClient) -> None:
    response = client.post("/api/v1/auth/setup", json={"username": "ops", "password": "short"})
    assert response.status_code == 422
    assert client.get("/api/v1/auth/status").json() == {"setup_required": True, "setup_code_required": False}


def test_everything_but_health_needs_auth(client: TestClient, auth: dict[str, str]) -> None:
    for path in (
        "/api/v1/auth/me",
        "/api/v1/plugins",
        "/api/v1/image-sources",
        "/api/v1/workflows",
        "/api/v1/models",
        "/api/v1/results",
        "/api/v1/results/summary",
        "/v2/models/x",
        "/metrics",
    ):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
    for path in ("/api/v1/health", "/v2/health/live", "/v2/health/ready", "/api/v1/auth/status"):
        assert client.get(path).status_code == 200, path


def test_forged_or_expired_tokens_are_refused(client: TestClient, auth: dict[str, str]) -> None:
    forged = jwt.encode(
        {"sub": "1", "aud": "dda-station", "exp": 4102444800, "iat": 1, "ver": 0},
        "wrong-key",
        algorithm="HS256",
    )
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    station = client.app.state.station  # type: ignore[attr-defined]
    expired = jwt.encode(
        {"sub": "1", "aud": "dda-station", "exp": 1, "iat": 0, "ver": 0},
        station.secret_key,
        algorithm="HS256",
    )
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_api_token_is_shown_once_and_stored_hashed(client: TestClient, auth: dict[str, str]) -> None:
    created = client.post("/api/v1/auth/tokens", json={"name": "plc-gateway"}, headers=auth)
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("dda_")
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == ADMIN_USER
    station = client.app.state.station  # type: ignore[attr-defined]
    with station.sessions() as session:
        row = session.scalar(select(ApiToken))
        assert row.name == "plc-gateway" and token not in row.token_hash and len(row.token_hash) == 64
    wrong = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer dda_not-a-token"})
    assert wrong.status_code == 401


def test_repeated_wrong_passwords_are_throttled(client: TestClient, auth: dict[str, str]) -> None:
    for _ in range(5):
        response = client.post("/api/v1/auth/login", json={"username": ADMIN_USER, "password": "guess-guess"})
        assert response.status_code == 401 and "wrong" in response.json()["detail"]
    blocked = client.post("/api/v1/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    assert blocked.status_code == 401 and "too many" in blocked.json()["detail"]
