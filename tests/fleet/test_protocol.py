"""Request signing of the wire protocol: a forged, altered, stale or malformed request never verifies."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dda.fleet_protocol import (
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MAX_CLOCK_SKEW_S,
    BadSignature,
    sign_request,
    verify_request,
)

KEY = Ed25519PrivateKey.generate()
PEM = (
    KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def test_round_trip() -> None:
    headers = sign_request(KEY, "dev-1", "POST", "/api/v1/agent/heartbeat", b'{"a":1}')
    nonce, _ = verify_request(PEM, headers, "POST", "/api/v1/agent/heartbeat", b'{"a":1}', time.time())
    assert nonce == headers[HEADER_NONCE]


@pytest.mark.parametrize(
    ("what", "method", "path", "body"),
    [
        ("altered body", "POST", "/api/v1/agent/heartbeat", b'{"a":2}'),
        ("other path", "POST", "/api/v1/agent/reports", b'{"a":1}'),
        ("other method", "PUT", "/api/v1/agent/heartbeat", b'{"a":1}'),
    ],
)
def test_anything_changed_fails(what: str, method: str, path: str, body: bytes) -> None:
    headers = sign_request(KEY, "dev-1", "POST", "/api/v1/agent/heartbeat", b'{"a":1}')
    with pytest.raises(BadSignature):
        verify_request(PEM, headers, method, path, body, time.time())


def test_another_key_fails() -> None:
    headers = sign_request(Ed25519PrivateKey.generate(), "dev-1", "GET", "/x", b"")
    with pytest.raises(BadSignature, match="does not verify"):
        verify_request(PEM, headers, "GET", "/x", b"", time.time())


def test_stale_and_malformed_headers_fail() -> None:
    headers = sign_request(KEY, "dev-1", "GET", "/x", b"")
    with pytest.raises(BadSignature, match="clock"):
        verify_request(PEM, headers, "GET", "/x", b"", time.time() + MAX_CLOCK_SKEW_S + 5)
    for name, value in [(HEADER_TIMESTAMP, "soon"), (HEADER_SIGNATURE, "%%%"), (HEADER_NONCE, "../../x")]:
        broken = headers | {name: value}
        with pytest.raises(BadSignature):
            verify_request(PEM, broken, "GET", "/x", b"", time.time())
    with pytest.raises(BadSignature):
        verify_request(PEM, {}, "GET", "/x", b"", time.time())
