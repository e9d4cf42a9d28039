"""The JWT attack list: every forged, stale or revoked credential answers 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import update

from dda.portal.db import RefreshToken
from dda.portal.security import JWT_AUDIENCE, token_hash
from tests.portal.conftest import PASSWORD, PortalHarness

ME = "/api/v1/auth/me"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_token(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """Assemble a JWT by hand (PyJWT refuses to make some of the forgeries we need)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


@pytest.fixture
def setup(sqlite_portal: PortalHarness) -> tuple[PortalHarness, dict[str, Any]]:
    sqlite_portal.make_user("alice")
    headers = sqlite_portal.login("alice")
    good = headers["Authorization"].split()[1]
    claims = jwt.decode(good, options={"verify_signature": False})
    assert sqlite_portal.client.get(ME, headers=headers).status_code == 200
    return sqlite_portal, claims


def _status(harness: PortalHarness, token: str) -> int:
    response = harness.client.get(ME, headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["code"] == "not_authenticated"
    return response.status_code


def _hs(secret: str | bytes, claims: dict[str, Any], **header: Any) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers=header or None)


def test_the_valid_token_works_and_carries_the_checked_claims(setup) -> None:  # type: ignore[no-untyped-def]
    harness, claims = setup
    assert claims["aud"] == JWT_AUDIENCE and claims["iss"] == "dda-portal"
    assert claims["exp"] - claims["iat"] == 900  # 15 minutes
    assert _status(harness, _hs(harness.portal.secret_key, claims)) == 200


def test_alg_none_is_refused(setup) -> None:  # type: ignore[no-untyped-def]
    harness, claims = setup
    for alg in ("none", "None", "NONE"):
        token = _raw_token({"alg": alg, "typ": "JWT"}, claims, lambda _: b"")
        assert _status(harness, token) == 401
        assert _status(harness, token.rstrip(".") + ".") == 401


def test_hs_rs_confusion_and_rs256_tokens_are_refused(setup) -> None:  # type: ignore[no-untyped-def]
    harness, claims = setup
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # HS256 keyed with a public key's PEM: the classic confusion when a server takes "the key" and
    # lets the token pick the algorithm.
    confused = _raw_token(
        {"alg": "HS256", "typ": "JWT"},
        claims,
        lambda data: hmac.new(public_pem, data, hashlib.sha256).digest(),
    )
    assert _status(harness, confused) == 401
    # A correctly signed RS256 token from a key pair the attacker owns.
    assert _status(harness, jwt.encode(claims, key, algorithm="RS256")) == 401
    # RS256 in the header but an HMAC with the real secret: the algorithm is fixed, not taken from it.
    secret = harness.portal.secret_key.encode()
    relabelled = _raw_token(
        {"alg": "RS256", "typ": "JWT"}, claims, lambda data: hmac.new(secret, data, hashlib.sha256).digest()
    )
    assert _status(harness, relabelled) == 401
    assert _status(harness, jwt.encode(claims, harness.portal.secret_key, algorithm="HS512")) == 401


def test_wrong_key_tampered_payload_and_garbage_are_refused(setup) -> None:  # type: ignore[no-untyped-def]
    harness, claims = setup
    assert _status(harness, _hs("a-guessed-secret-of-some-length-1234567", claims)) == 401
    good = _hs(harness.portal.secret_key, claims)
    header, _, signature = good.split(".")
    forged_claims = {**claims, "sub": "someone-else", "name": "root"}
    tampered = f"{header}.{_b64(json.dumps(forged_claims).encode())}.{signature}"
    assert _status(harness, tampered) == 401
    for garbage in ("x", "a.b.c", good + "x", good[:-4], "ddap_nonsense", "ddar_nonsense", "%00" * 10):
        assert _status(harness, garbage) == 401


# Times are offsets from the moment the test runs (the suite may run long after this module loads).
CLAIM_CASES: list[tuple[dict[str, Any], str | None]] = [
    ({"exp": -60}, None),  # expired
    ({"nbf": 600}, None),  # not yet valid
    ({"iat": 600, "nbf": 600}, None),
    ({"aud": "another-service"}, None),  # wrong audience
    ({"aud": ["another-service"]}, None),
    ({"iss": "someone-else"}, None),  # wrong issuer
    ({}, "exp"),  # missing exp
    ({}, "aud"),
    ({}, "iss"),
    ({}, "sub"),
    ({}, "iat"),
    ({"sub": 12345}, None),  # malformed sub
    ({"sub": ["a", "b"]}, None),
    ({"sub": "00000000-0000-0000-0000-000000000000"}, None),  # no such user
    ({"ver": "0"}, None),
    ({"ver": 7}, None),  # a token version that was never issued
]


def test_claim_checks(setup) -> None:  # type: ignore[no-untyped-def]
    harness, claims = setup
    for offsets, drop in CLAIM_CASES:
        now = int(time.time())
        change = {k: now + v if k in ("exp", "nbf", "iat") else v for k, v in offsets.items()}
        forged = {**claims, **change}
        if drop:
            forged.pop(drop)
        assert _status(harness, _hs(harness.portal.secret_key, forged)) == 401, (change, drop)


def _login(harness: PortalHarness, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = harness.client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _refresh(harness: PortalHarness, refresh_token: str) -> Any:
    return harness.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


def test_refresh_rotates_and_reuse_revokes_the_whole_family(sqlite_portal: PortalHarness) -> None:
    harness = sqlite_portal
    harness.make_user("bob")
    first = _login(harness, "bob")
    other_login = _login(harness, "bob")  # another device: its own family
    second = _refresh(harness, first["refresh_token"])
    assert second.status_code == 200
    third = _refresh(harness, second.json()["refresh_token"])
    assert third.status_code == 200
    # The first token was rotated: presenting it again means a copy leaked.
    assert _refresh(harness, first["refresh_token"]).status_code == 401
    # ... so the newest token of that family is dead too,
    assert _refresh(harness, third.json()["refresh_token"]).status_code == 401
    # while the other device's family still works.
    assert _refresh(harness, other_login["refresh_token"]).status_code == 200
    # An expired refresh token (made so in the database) is refused.
    latest = _refresh(harness, other_login["refresh_token"])  # rotated above; this is the reuse case
    assert latest.status_code == 401
    fresh = _login(harness, "bob")
    with harness.portal.session() as session:
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == token_hash(fresh["refresh_token"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert _refresh(harness, fresh["refresh_token"]).status_code == 401
    for bad in ("ddar_" + "A" * 43, "nonsense", "x" * 200):
        assert _refresh(harness, bad).status_code == 401
    assert _refresh(harness, "x" * 201).status_code == 422


def test_logout_revokes_its_refresh_token_and_everywhere_revokes_access_tokens(
    sqlite_portal: PortalHarness,
) -> None:
    harness = sqlite_portal
    harness.make_user("carol")
    one, two = _login(harness, "carol"), _login(harness, "carol")
    auth_one = {"Authorization": f"Bearer {one['access_token']}"}
    out = harness.client.post(
        "/api/v1/auth/logout", json={"refresh_token": one["refresh_token"]}, headers=auth_one
    )
    assert out.status_code == 204
    assert _refresh(harness, one["refresh_token"]).status_code == 401
    assert _refresh(harness, two["refresh_token"]).status_code == 200
    harness.client.post("/api/v1/auth/logout", json={"everywhere": True}, headers=auth_one)
    assert _status(harness, one["access_token"]) == 401
    assert _status(harness, two["access_token"]) == 401


def test_password_reset_and_disable_end_every_session(sqlite_portal: PortalHarness) -> None:
    harness = sqlite_portal
    harness.make_user("root", admin=True)
    harness.make_user("dave")
    admin = harness.login("root")
    tokens = _login(harness, "dave")
    new_password = "Another-Horse-7-staple"
    reset = harness.client.post(
        "/api/v1/users/dave/password", json={"new_password": new_password}, headers=admin
    )
    assert reset.status_code == 204, reset.text
    assert _status(harness, tokens["access_token"]) == 401
    assert _refresh(harness, tokens["refresh_token"]).status_code == 401
    again = _login(harness, "dave", new_password)
    assert (
        harness.client.patch("/api/v1/users/dave", json={"disabled": True}, headers=admin).status_code == 200
    )
    assert _status(harness, again["access_token"]) == 401
    assert _refresh(harness, again["refresh_token"]).status_code == 401
    denied = harness.client.post("/api/v1/auth/login", json={"username": "dave", "password": new_password})
    assert denied.status_code == 401
    assert (
        harness.client.patch("/api/v1/users/dave", json={"disabled": False}, headers=admin).status_code == 200
    )
    assert _status(harness, _login(harness, "dave", new_password)["access_token"]) == 200
