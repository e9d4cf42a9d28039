"""API tokens: one use case, a role at most the creator's, expiry, shown once, hashed, revocable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from dda.portal.db import ApiToken
from dda.portal.permissions import Role
from tests.portal.conftest import PortalHarness


def test_api_token_lifecycle(portal: PortalHarness) -> None:
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    line = portal.create_usecase(admin, "line")
    other = portal.create_usecase(admin, "other")
    portal.make_user("dana", role=Role.DATA_SCIENTIST, usecase_id=line)
    portal.grant("dana", other, Role.DATA_SCIENTIST)
    dana = portal.login("dana")
    client = portal.client
    tokens = f"/api/v1/usecases/{line}/tokens"

    # Never above the creator's role there (Operator is not below DataScientist either).
    for role in ("UseCaseAdmin", "Operator"):
        denied = client.post(tokens, json={"name": "ci", "role": role, "expires_in_days": 30}, headers=dana)
        assert denied.status_code == 403, role
    for bad in (
        {"name": "ci", "role": "Viewer"},
        {"name": "ci", "role": "Viewer", "expires_in_days": 366},
        {"name": "ci", "role": "Viewer", "expires_in_days": 0},
        {"name": "ci", "role": "PortalAdmin", "expires_in_days": 1},
    ):
        assert client.post(tokens, json=bad, headers=dana).status_code == 422, bad
    made = client.post(tokens, json={"name": "ci", "role": "Viewer", "expires_in_days": 30}, headers=dana)
    assert made.status_code == 201, made.text
    body = made.json()
    secret = body["token"]
    assert secret.startswith("ddap_") and body["role"] == "Viewer"
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)
    with portal.portal.session() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.id == body["id"]))
        assert row is not None and secret not in (row.token_hash, row.name) and len(row.token_hash) == 64

    bearer = {"Authorization": f"Bearer {secret}"}
    # It acts in its use case with its own role ...
    assert client.get(f"/api/v1/usecases/{line}", headers=bearer).json()["my_role"] == "Viewer"
    assert (
        client.patch(f"/api/v1/usecases/{line}", json={"description": "x"}, headers=bearer).status_code == 403
    )
    # ... and nowhere else, though its owner holds a role in the other use case.
    assert client.get(f"/api/v1/usecases/{other}", headers=bearer).status_code == 404
    listed = client.get("/api/v1/usecases", headers=bearer).json()["items"]
    assert [u["id"] for u in listed] == [line]
    # A token may not mint tokens (it could outlive itself).
    again = client.post(tokens, json={"name": "x", "role": "Viewer", "expires_in_days": 1}, headers=bearer)
    assert again.status_code == 403

    # Nor log its owner out, nor change the password, nor see the owner's tokens of other use cases.
    other_token = client.post(
        f"/api/v1/usecases/{other}/tokens",
        json={"name": "o", "role": "Viewer", "expires_in_days": 1},
        headers=dana,
    ).json()
    assert client.post("/api/v1/auth/logout", json={"everywhere": True}, headers=bearer).status_code == 403
    change = {"current_password": "x", "new_password": "Brand-New-Pass-42"}
    assert client.post("/api/v1/auth/password", json=change, headers=bearer).status_code == 403
    assert [t["id"] for t in client.get("/api/v1/auth/tokens", headers=bearer).json()] == [body["id"]]
    assert client.delete(f"/api/v1/auth/tokens/{other_token['id']}", headers=bearer).status_code == 404
    assert client.delete(f"/api/v1/auth/tokens/{other_token['id']}", headers=dana).status_code == 204

    mine = client.get("/api/v1/auth/tokens", headers=dana).json()
    by_id = {t["id"]: t for t in mine}
    assert set(by_id) == {body["id"], other_token["id"]} and all("token" not in t for t in mine)
    assert (
        by_id[body["id"]]["last_used_at"] is not None and by_id[other_token["id"]]["revoked_at"] is not None
    )
    assert client.get("/api/v1/auth/tokens", headers=admin).json() == []
    # Another user cannot revoke it (404), its owner can.
    assert client.delete(f"/api/v1/auth/tokens/{body['id']}", headers=admin).status_code == 404
    assert client.delete(f"/api/v1/auth/tokens/{body['id']}", headers=dana).status_code == 204
    assert client.get(f"/api/v1/usecases/{line}", headers=bearer).status_code == 401


def test_api_token_follows_its_owner(sqlite_portal: PortalHarness) -> None:
    harness = sqlite_portal
    harness.make_user("root", admin=True)
    admin = harness.login("root")
    line = harness.create_usecase(admin, "line")
    harness.make_user("uca", role=Role.USECASE_ADMIN, usecase_id=line)
    uca = harness.login("uca")
    client = harness.client
    made = client.post(
        f"/api/v1/usecases/{line}/tokens",
        json={"name": "bot", "role": "UseCaseAdmin", "expires_in_days": 365},
        headers=uca,
    ).json()
    bearer = {"Authorization": f"Bearer {made['token']}"}
    assert client.get(f"/api/v1/usecases/{line}/members", headers=bearer).status_code == 200
    # A PortalAdmin's token never carries PortalAdmin powers.
    admin_token = client.post(
        f"/api/v1/usecases/{line}/tokens",
        json={"name": "a", "role": "UseCaseAdmin", "expires_in_days": 1},
        headers=admin,
    ).json()["token"]
    assert client.get("/api/v1/users", headers={"Authorization": f"Bearer {admin_token}"}).status_code == 403
    # The owner is demoted: the token is capped at the owner's current role (here: nothing above Viewer).
    client.patch(f"/api/v1/usecases/{line}/members/uca", json={"role": "Viewer"}, headers=admin)
    assert client.get(f"/api/v1/usecases/{line}/members", headers=bearer).status_code in (403, 404)
    client.patch(f"/api/v1/usecases/{line}/members/uca", json={"role": "UseCaseAdmin"}, headers=admin)
    assert client.get(f"/api/v1/usecases/{line}/members", headers=bearer).status_code == 200
    # Disabling the owner stops the token.
    client.patch("/api/v1/users/uca", json={"disabled": True}, headers=admin)
    assert client.get(f"/api/v1/usecases/{line}", headers=bearer).status_code == 401
    # An expired token is refused.
    client.patch("/api/v1/users/uca", json={"disabled": False}, headers=admin)
    with harness.portal.session() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.id == made["id"]))
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert client.get(f"/api/v1/usecases/{line}", headers=bearer).status_code == 401
