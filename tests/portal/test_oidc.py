"""OpenID Connect login against a real provider on loopback (authlib's server parts over HTTP):
authorization code + PKCE + state + nonce, users created or linked by subject, claims checked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey

from tests.portal.conftest import PASSWORD, PortalHarness
from tests.portal.oidc_provider import OidcProvider, running_provider

CALLBACK = "http://testserver/api/v1/auth/oidc/callback"
ALICE = {"sub": "idp-user-1", "preferred_username": "Alice", "name": "Alice A", "groups": ["staff"]}


@pytest.fixture
def idp() -> Iterator[OidcProvider]:
    with running_provider() as provider:
        provider.add_client("dda-portal", "client-secret-123", CALLBACK)
        yield provider


@pytest.fixture
def oidc_portal(make_portal, idp: OidcProvider) -> PortalHarness:  # type: ignore[no-untyped-def]
    oidc = {
        "issuer": idp.issuer,
        "client_id": "dda-portal",
        "client_secret": "client-secret-123",
        "scopes": "openid profile email groups",
        "admin_claim": "groups",
        "admin_value": "dda-admins",
        "default_usecase": "line",
        "default_role": "Viewer",
    }
    harness: PortalHarness = make_portal(None, oidc=oidc)
    return harness


def _browser_login(portal: PortalHarness, idp: OidcProvider, user: dict[str, Any] | None) -> httpx.Response:
    """What a browser does: portal -> provider -> portal callback (cookies kept by the client)."""
    idp.current_user = user
    start = portal.client.get("/api/v1/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 302, start.text
    location = start.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(idp.issuer + "/authorize")
    assert query["code_challenge_method"] == ["S256"] and query["state"] and query["nonce"]
    assert "code_verifier" not in location  # the verifier never leaves the portal in clear
    at_idp = httpx.get(location, follow_redirects=False)
    assert at_idp.status_code == 302, at_idp.text
    back = urlsplit(at_idp.headers["location"])
    return portal.client.get(f"{back.path}?{back.query}", follow_redirects=False)


def _me(portal: PortalHarness, access_token: str) -> dict[str, Any]:
    response = portal.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_oidc_login_creates_then_reuses_the_user(oidc_portal: PortalHarness, idp: OidcProvider) -> None:
    oidc_portal.make_user("root", admin=True)
    oidc_portal.create_usecase(oidc_portal.login("root"), "line")
    assert oidc_portal.client.get("/api/v1/auth/oidc").json() == {
        "enabled": True,
        "login_url": "/api/v1/auth/oidc/login",
    }
    first = _browser_login(oidc_portal, idp, ALICE)
    assert first.status_code == 200, first.text
    assert idp.token_requests[-1]["code_verifier"]  # PKCE at the token endpoint
    me = _me(oidc_portal, first.json()["access_token"])
    assert me["username"] == "alice" and me["display_name"] == "Alice A" and not me["is_portal_admin"]
    assert [(r["usecase_name"], r["role"]) for r in me["roles"]] == [("line", "Viewer")]
    # The portal's own refresh token works like any other.
    refreshed = oidc_portal.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200
    # The provider now says alice is an admin: the flag follows the claim on the next login.
    second = _browser_login(oidc_portal, idp, {**ALICE, "groups": ["staff", "dda-admins"]})
    again = _me(oidc_portal, second.json()["access_token"])
    assert again["id"] == me["id"] and again["is_portal_admin"] is True
    # The user has no password: a password login is impossible.
    denied = oidc_portal.client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert denied.status_code == 401


def test_return_to_gets_the_tokens_in_the_fragment(oidc_portal: PortalHarness, idp: OidcProvider) -> None:
    idp.current_user = ALICE
    start = oidc_portal.client.get("/api/v1/auth/oidc/login?return_to=/usecases", follow_redirects=False)
    at_idp = httpx.get(start.headers["location"], follow_redirects=False)
    back = urlsplit(at_idp.headers["location"])
    done = oidc_portal.client.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert done.status_code == 303
    target = urlsplit(done.headers["location"])
    assert target.path == "/usecases" and "access_token=" in target.fragment
    for bad in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        refused = oidc_portal.client.get(f"/api/v1/auth/oidc/login?return_to={bad}", follow_redirects=False)
        assert refused.status_code == 422


def test_state_cookie_and_code_are_checked(oidc_portal: PortalHarness, idp: OidcProvider) -> None:
    idp.current_user = ALICE
    start = oidc_portal.client.get("/api/v1/auth/oidc/login", follow_redirects=False)
    at_idp = httpx.get(start.headers["location"], follow_redirects=False)
    back = urlsplit(at_idp.headers["location"])
    params = parse_qs(back.query)
    code, state = params["code"][0], params["state"][0]
    callback = "/api/v1/auth/oidc/callback"
    # Another state than the one this browser started with (login CSRF).
    assert oidc_portal.client.get(f"{callback}?code={code}&state=forged").status_code == 401
    # Without the browser's cookie.
    cookies = dict(oidc_portal.client.cookies)
    oidc_portal.client.cookies.clear()
    assert oidc_portal.client.get(f"{callback}?code={code}&state={state}").status_code == 401
    oidc_portal.client.cookies.set("dda_oidc_login", "tampered", path="/api/v1/auth/oidc")
    assert oidc_portal.client.get(f"{callback}?code={code}&state={state}").status_code == 401
    for name, value in cookies.items():
        oidc_portal.client.cookies.set(name, value, path="/api/v1/auth/oidc")
    assert oidc_portal.client.get(f"{callback}?code=made-up-code&state={state}").status_code == 401
    assert oidc_portal.client.get(f"{callback}?code={code}&state={state}").status_code == 200
    # A code works once.
    for name, value in cookies.items():
        oidc_portal.client.cookies.set(name, value, path="/api/v1/auth/oidc")
    assert oidc_portal.client.get(f"{callback}?code={code}&state={state}").status_code == 401
    assert oidc_portal.client.get(f"{callback}?error=access_denied").status_code == 401


@pytest.mark.parametrize(
    "tamper",
    [{"aud": ["another-client"]}, {"iss": "https://impostor.example"}, {"exp": 1000}, {"nonce": "other"}],
)
def test_id_token_claims_are_checked(
    oidc_portal: PortalHarness, idp: OidcProvider, tamper: dict[str, Any]
) -> None:
    idp.tamper = tamper
    assert _browser_login(oidc_portal, idp, ALICE).status_code == 401


def test_id_token_signed_with_an_unpublished_key_is_refused(
    oidc_portal: PortalHarness, idp: OidcProvider
) -> None:
    idp.published_key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1"})
    assert _browser_login(oidc_portal, idp, ALICE).status_code == 401


def test_linking_never_takes_over_a_local_account(oidc_portal: PortalHarness, idp: OidcProvider) -> None:
    oidc_portal.make_user("root", admin=True)
    admin = oidc_portal.login("root")
    oidc_portal.make_user("alice")  # a local account with a password
    clash = _browser_login(oidc_portal, idp, ALICE)
    assert clash.status_code == 409
    # An admin-made OIDC-only account is linked by name at the first login ...
    oidc_portal.client.post("/api/v1/users", json={"username": "bob"}, headers=admin)
    bob = _browser_login(oidc_portal, idp, {"sub": "idp-user-2", "preferred_username": "bob"})
    assert bob.status_code == 200
    # ... and one made with an explicit subject is found by it, whatever the name claim says.
    oidc_portal.client.post(
        "/api/v1/users", json={"username": "carol", "oidc_subject": "idp-user-3"}, headers=admin
    )
    carol = _browser_login(oidc_portal, idp, {"sub": "idp-user-3", "preferred_username": "c.renamed"})
    assert _me(oidc_portal, carol.json()["access_token"])["username"] == "carol"
    # A disabled user cannot come back through OIDC.
    oidc_portal.client.patch("/api/v1/users/carol", json={"disabled": True}, headers=admin)
    assert _browser_login(oidc_portal, idp, {"sub": "idp-user-3"}).status_code == 401
    # A name claim that is no usable username is refused clearly.
    weird = _browser_login(oidc_portal, idp, {"sub": "idp-user-4", "preferred_username": "../../etc"})
    assert weird.status_code == 422


def test_oidc_off_by_default(sqlite_portal: PortalHarness) -> None:
    assert sqlite_portal.client.get("/api/v1/auth/oidc").json() == {"enabled": False, "login_url": None}
    assert sqlite_portal.client.get("/api/v1/auth/oidc/login", follow_redirects=False).status_code == 404
    assert sqlite_portal.client.get("/api/v1/auth/oidc/callback?code=x&state=y").status_code == 404
