"""Malformed input to the auth, users, team and token routes answers 4xx, never 5xx, on SQLite and
PostgreSQL (which refuses NUL characters in text)."""

from __future__ import annotations

from sqlalchemy import select

from dda.portal.db import AuditEvent
from tests.portal.conftest import PASSWORD, PortalHarness


def test_malformed_input_is_a_client_error(portal: PortalHarness) -> None:
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    usecase = portal.create_usecase(admin, "line")
    c = portal.client
    answers = {
        "login": c.post("/api/v1/auth/login", json={"username": "ro\x00ot", "password": "x\x00"}),
        "login-type": c.post("/api/v1/auth/login", json={"username": ["root"], "password": 1}),
        "login-body": c.post(
            "/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
        ),
        "refresh": c.post("/api/v1/auth/refresh", json={"refresh_token": "ddar_\x00"}),
        "user-get": c.get("/api/v1/users/a%00b", headers=admin),
        "user-create": c.post(
            "/api/v1/users",
            json={"username": "ab", "display_name": "a\x00b", "password": PASSWORD},
            headers=admin,
        ),
        "user-patch": c.patch("/api/v1/users/root", json={"disabled": "maybe"}, headers=admin),
        "users-cursor": c.get("/api/v1/users?cursor=a%00", headers=admin),
        "users-limit": c.get("/api/v1/users?limit=100000", headers=admin),
        "team-patch": c.patch(
            f"/api/v1/usecases/{usecase}/members/a%00b", json={"role": "Viewer"}, headers=admin
        ),
        "team-add": c.post(
            f"/api/v1/usecases/{usecase}/members", json={"username": "x" * 500}, headers=admin
        ),
        "token-del": c.delete("/api/v1/auth/tokens/a%00b", headers=admin),
        "token-list": c.get("/api/v1/auth/tokens?usecase_id=a%00b", headers=admin),
        "token-create": c.post(
            f"/api/v1/usecases/{usecase}/tokens",
            json={"name": "a\x00", "role": "Viewer", "expires_in_days": 1},
            headers=admin,
        ),
        "token-days": c.post(
            f"/api/v1/usecases/{usecase}/tokens",
            json={"name": "a", "role": "Viewer", "expires_in_days": 10**20},
            headers=admin,
        ),
        "bearer": c.get("/api/v1/auth/me", headers={"Authorization": "Bearer ddap_%00"}),
        "password": c.post(
            "/api/v1/auth/password",
            json={"current_password": "a\x00", "new_password": "Aaaaaaaaaaa1!\x00"},
            headers=admin,
        ),
        "oidc-off": c.get("/api/v1/auth/oidc/callback?code=%00&state=%00"),
    }
    statuses = {name: response.status_code for name, response in answers.items()}
    # Each refused mutation still left its audit row (a NUL in the path must not break the write).
    with portal.portal.session() as session:
        targets = list(session.scalars(select(AuditEvent.target_id)))
    assert "a?b" in targets
    # A filter or cursor that matches nothing may answer an empty 200; nothing may answer 5xx.
    lenient = {"users-cursor", "token-list"}
    wrong = {
        name: s for name, s in statuses.items() if not (400 <= s < 500 or (name in lenient and s == 200))
    }
    assert not wrong, wrong
