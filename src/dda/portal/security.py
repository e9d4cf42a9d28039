"""Passwords (argon2id, the seed's policy) and access tokens (JWT, one fixed algorithm)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from dda.core.errors import DDAError, InvalidInput

JWT_ALGORITHM = "HS256"  # the only one accepted: no alg=none, no RS/HS confusion
JWT_AUDIENCE = "dda-portal-api"
API_TOKEN_PREFIX = "ddap_"  # noqa: S105 - a marker that tells API tokens from JWTs, not a secret
REFRESH_TOKEN_PREFIX = "ddar_"  # noqa: S105 - likewise
MIN_PASSWORD = 12

# argon2id; OWASP's floor is 19 MiB and 2 iterations: we use 64 MiB and 3.
_hasher = PasswordHasher(time_cost=3, memory_cost=65_536, parallelism=1, type=Type.ID)
_DUMMY_HASH = _hasher.hash("not-a-real-password-Aa1!")  # equal work for unknown users


class NotAuthenticated(DDAError):
    """Missing, expired, revoked or wrong credentials (HTTP 401)."""

    code = "not_authenticated"


class Throttled(DDAError):
    """Too many failures: try again after ``retry_after`` seconds (HTTP 429)."""

    code = "throttled"

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


def check_password_policy(password: str) -> None:
    """The seed's Cognito policy: 12+ characters with upper, lower, digit and symbol."""
    missing = [
        what
        for what, pattern in (
            ("an upper-case letter", r"[A-Z]"),
            ("a lower-case letter", r"[a-z]"),
            ("a digit", r"[0-9]"),
            ("a symbol", r"[^A-Za-z0-9]"),
        )
        if not re.search(pattern, password)
    ]
    if len(password) < MIN_PASSWORD:
        missing.insert(0, f"at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise InvalidInput("the password is longer than 1024 characters", hint="choose a shorter one")
    if missing:
        raise InvalidInput(
            "the password does not meet the policy: it needs " + ", ".join(missing),
            hint="use 12 or more characters mixing upper- and lower-case letters, digits and symbols",
        )


def hash_password(password: str) -> str:
    check_password_policy(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user has a password (no probing by timing)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_opaque_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def issue_access_token(
    *, user_id: str, username: str, token_version: int, secret: str, issuer: str, ttl_s: int
) -> tuple[str, datetime]:
    now = datetime.now(UTC).replace(microsecond=0)
    expires = now + timedelta(seconds=ttl_s)
    claims = {
        "sub": user_id,
        "name": username,
        "ver": token_version,
        "iss": issuer,
        "aud": JWT_AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": expires,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM), expires


def decode_access_token(token: str, *, secret: str, issuer: str) -> dict[str, Any]:
    """The verified claims, or :class:`NotAuthenticated` for any flaw (the reason stays vague)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            issuer=issuer,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("the access token has expired", hint="refresh it or log in again") from exc
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise NotAuthenticated("the access token is not valid", hint="log in again") from exc
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("ver"), int):
        raise NotAuthenticated("the access token is not valid", hint="log in again")
    return claims
