"""Users API (PortalAdmin): create with the password policy or OIDC-only, list, read, update, reset;
argon2id parameters read from the stored hash."""

from __future__ import annotations

import pytest

from dda.core.errors import InvalidInput
from dda.portal.repositories import users as users_repo
from dda.portal.security import check_password_policy
from tests.portal.conftest import PASSWORD, PortalHarness


def test_argon2id_parameters_in_the_stored_hash(sqlite_portal: PortalHarness) -> None:
    sqlite_portal.make_user("hashy")
    with sqlite_portal.portal.session() as session:
        user = users_repo.by_username(session, "hashy")
        assert user is not None and user.password_hash is not None
        stored = user.password_hash
    assert PASSWORD not in stored
    _, variant, version, params, salt, digest = stored.split("$")
    assert variant == "argon2id" and version == "v=19"
    values = dict(part.split("=") for part in params.split(","))
    assert int(values["m"]) >= 19 * 1024  # KiB: at least 19 MiB
    assert int(values["t"]) >= 2
    assert len(salt) >= 16 and len(digest) >= 32


@pytest.mark.parametrize(
    ("password", "missing"),
    [
        ("Short-1a", "at least 12 characters"),
        ("alllowercase-123", "an upper-case letter"),
        ("ALLUPPERCASE-123", "a lower-case letter"),
        ("No-Digits-Here-At-All", "a digit"),
        ("NoSymbols12345abc", "a symbol"),
    ],
)
def test_password_policy_names_what_is_missing(password: str, missing: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_password_policy(password)
    assert missing in caught.value.message
    assert password not in caught.value.message


def test_password_policy_accepts_a_good_one_and_refuses_a_huge_one() -> None:
    check_password_policy(PASSWORD)
    check_password_policy("Ünïcode-Pässwörd-7")
    with pytest.raises(InvalidInput):
        check_password_policy("Aa1!" * 300)


def test_admin_manages_users(portal: PortalHarness) -> None:
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    client = portal.client
    weak = client.post("/api/v1/users", json={"username": "erin", "password": "password"}, headers=admin)
    assert weak.status_code == 422 and "policy" in weak.json()["detail"]
    made = client.post(
        "/api/v1/users",
        json={
            "username": "Erin",
            "password": PASSWORD,
            "email": "erin@example.com",
            "display_name": "Erin E",
        },
        headers=admin,
    )
    assert made.status_code == 201, made.text
    erin = made.json()
    assert erin["username"] == "erin" and erin["has_password"] and not erin["is_portal_admin"]
    assert "password" not in str(erin).lower().replace("has_password", "").replace("password_changed_at", "")
    oidc_only = client.post("/api/v1/users", json={"username": "frank"}, headers=admin)
    assert oidc_only.status_code == 201, oidc_only.text
    assert oidc_only.json()["has_password"] is False
    # An OIDC-only user cannot log in with any password.
    no_login = client.post("/api/v1/auth/login", json={"username": "frank", "password": PASSWORD})
    assert no_login.status_code == 401
    assert (
        client.post(
            "/api/v1/users", json={"username": "erin", "password": PASSWORD}, headers=admin
        ).status_code
        == 409
    )
    for bad in (
        {"username": "../etc"},
        {"username": ""},
        {"username": "x" * 65},
        {"username": "ok", "role": "x"},
    ):
        assert client.post("/api/v1/users", json=bad, headers=admin).status_code == 422

    assert client.get(f"/api/v1/users/{erin['id']}", headers=admin).json()["username"] == "erin"
    assert client.get("/api/v1/users/erin", headers=admin).json()["id"] == erin["id"]
    assert client.get("/api/v1/users/nobody", headers=admin).status_code == 404

    first = client.get("/api/v1/users?limit=2", headers=admin).json()
    assert [u["username"] for u in first["items"]] == ["erin", "frank"] and first["next_cursor"] == "frank"
    rest = client.get(f"/api/v1/users?limit=2&cursor={first['next_cursor']}", headers=admin).json()
    assert [u["username"] for u in rest["items"]] == ["root"] and rest["next_cursor"] is None

    promoted = client.patch("/api/v1/users/erin", json={"is_portal_admin": True}, headers=admin)
    assert promoted.status_code == 200 and promoted.json()["is_portal_admin"] is True
    erin_headers = portal.login("erin")
    assert client.get("/api/v1/users", headers=erin_headers).status_code == 200
    client.patch("/api/v1/users/erin", json={"is_portal_admin": False}, headers=admin)
    assert client.get("/api/v1/users", headers=erin_headers).status_code == 403
    # No admin locks themself out.
    assert client.patch("/api/v1/users/root", json={"disabled": True}, headers=admin).status_code == 409
    assert (
        client.patch("/api/v1/users/root", json={"is_portal_admin": False}, headers=admin).status_code == 409
    )
    weak_reset = client.post("/api/v1/users/erin/password", json={"new_password": "weak"}, headers=admin)
    assert weak_reset.status_code == 422


def test_users_api_is_portal_admin_only(sqlite_portal: PortalHarness) -> None:
    sqlite_portal.make_user("root", admin=True)
    usecase_id = sqlite_portal.create_usecase(sqlite_portal.login("root"), "line")
    from dda.portal.permissions import Role

    sqlite_portal.make_user("uca", role=Role.USECASE_ADMIN, usecase_id=usecase_id)
    uca = sqlite_portal.login("uca")
    client = sqlite_portal.client
    assert client.get("/api/v1/users", headers=uca).status_code == 403
    assert (
        client.post("/api/v1/users", json={"username": "x", "password": PASSWORD}, headers=uca).status_code
        == 403
    )
    assert client.patch("/api/v1/users/uca", json={"is_portal_admin": True}, headers=uca).status_code == 403
    assert client.get("/api/v1/users").status_code == 401


def test_change_own_password(sqlite_portal: PortalHarness) -> None:
    sqlite_portal.make_user("gina")
    headers = sqlite_portal.login("gina")
    client = sqlite_portal.client
    wrong = client.post(
        "/api/v1/auth/password",
        json={"current_password": "Wrong-Password-1", "new_password": "Brand-New-Pass-42"},
        headers=headers,
    )
    assert wrong.status_code == 401
    weak = client.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "weak"}, headers=headers
    )
    assert weak.status_code == 422
    ok = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "Brand-New-Pass-42"},
        headers=headers,
    )
    assert ok.status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401  # the old login ended
    sqlite_portal.login("gina", "Brand-New-Pass-42")
