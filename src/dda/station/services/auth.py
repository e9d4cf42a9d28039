"""Local accounts: argon2id password hashes, JWT access tokens, hashed API tokens, roles.

Sessions are revocable: each access token carries the user's ``token_version`` (``ver``), which a
password reset, disabling the user and logging out increase, so every token issued before stops
working at once. API tokens expire and can be listed and revoked; a password reset revokes them.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from dda.core.errors import Conflict, DDAError, InvalidInput, NotFound
from dda.station.db.models import ApiToken, User
from dda.station.repositories import users as users_repo

ACCESS_TOKEN_TTL = timedelta(hours=12)
API_TOKEN_PREFIX = "dda_"  # noqa: S105 - a marker, not a secret
JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "dda-station"
MIN_PASSWORD = 8
MAX_DB_INT = 2**63 - 1
ROLES = ("viewer", "operator", "admin")  # each role can do everything the ones before it can

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = _hasher.hash("not-a-real-password")  # equal work for unknown users (no user probing)


class NotAuthenticated(DDAError):
    """Missing, expired or wrong credentials (HTTP 401)."""

    code = "not_authenticated"


class LoginThrottle:
    """Slows password guessing: after ``max_failures`` wrong logins from one address for one user
    within ``window_s``, that pair is refused until the window has passed."""

    def __init__(self, max_failures: int = 5, window_s: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        recent = [t for t in self._failures.get(key, []) if now - t < self.window_s]
        self._failures[key] = recent
        return recent

    def check(self, username: str, address: str) -> None:
        with self._lock:
            recent = self._recent((username, address), time.monotonic())
        if len(recent) >= self.max_failures:
            wait = int(self.window_s - (time.monotonic() - recent[0])) + 1
            raise NotAuthenticated(
                "too many failed logins for this user from this address",
                hint=f"wait {wait} s, or reset the password: `dda station create-admin --reset`",
            )

    def failed(self, username: str, address: str) -> None:
        with self._lock:
            self._recent((username, address), time.monotonic()).append(time.monotonic())

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop((username, address), None)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"the password is shorter than {MIN_PASSWORD} characters", hint="choose a longer one"
        )
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` has at least the rights of ``needed`` (unknown roles have none)."""
    if role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(needed)


def setup_required(session: Session) -> bool:
    return users_repo.count(session) == 0


def create_user(
    session: Session,
    username: str,
    password: str,
    *,
    is_admin: bool = True,
    role: str | None = None,
) -> User:
    if users_repo.by_username(session, username) is not None:
        raise Conflict(f"user {username!r} already exists", hint="pick another name, or log in as that user")
    chosen = role or ("admin" if is_admin else "operator")
    if chosen not in ROLES:
        raise InvalidInput(f"unknown role {chosen!r}", hint=f"use one of {', '.join(ROLES)}")
    user = User(username=username, password_hash=hash_password(password), role=chosen)
    session.add(user)
    session.flush()
    return user


def create_first_admin(session: Session, username: str, password: str) -> User:
    """First-run setup: only allowed while the station has no user at all."""
    if not setup_required(session):
        raise Conflict(
            "the station is already set up",
            hint="log in; an admin can add users with `dda station create-admin`",
        )
    return create_user(session, username, password, role="admin")


def revoke_sessions(session: Session, user: User, *, api_tokens: bool) -> None:
    """Invalidate every access token of ``user`` (and its API tokens when asked)."""
    user.token_version += 1
    if api_tokens:
        for token in list(user.tokens):
            session.delete(token)
    session.flush()


def set_password(session: Session, username: str, password: str) -> User:
    """A new password; old logins and API tokens stop working."""
    user = users_repo.by_username(session, username)
    if user is None:
        raise InvalidInput(f"no user {username!r}", hint="create it first")
    user.password_hash = hash_password(password)
    revoke_sessions(session, user, api_tokens=True)
    return user


def _enabled_admins(session: Session) -> int:
    return sum(1 for u in users_repo.list_all(session) if u.role == "admin" and not u.disabled)


def update_user(
    session: Session,
    user_id: int,
    *,
    role: str | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> User:
    """An admin's change to a user: role, disabled, new password (each optional)."""
    user = get_user(session, user_id)
    was_admin = user.role == "admin" and not user.disabled
    if role is not None:
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}", hint=f"use one of {', '.join(ROLES)}")
        user.role = role
    if disabled is not None and disabled != user.disabled:
        user.disabled = disabled
        if disabled:
            revoke_sessions(session, user, api_tokens=False)
    if was_admin and (user.role != "admin" or user.disabled) and _enabled_admins(session) == 0:
        raise Conflict("this is the last enabled admin", hint="make another user admin first")
    if password is not None:
        set_password(session, user.username, password)
    session.flush()
    return user


def get_user(session: Session, user_id: int) -> User:
    user = users_repo.by_id(session, user_id) if 0 < user_id <= MAX_DB_INT else None
    if user is None:
        raise NotFound(f"user {user_id} does not exist", hint="GET /api/v1/users lists the users")
    return user


def check_login(session: Session, username: str, password: str) -> User:
    user = users_repo.by_username(session, username)
    if user is None:
        verify_password(_DUMMY_HASH, password)
        raise NotAuthenticated("wrong username or password", hint="check both and try again")
    if not verify_password(user.password_hash, password):
        raise NotAuthenticated("wrong username or password", hint="check both and try again")
    if user.disabled:
        raise NotAuthenticated("this user is disabled", hint="ask an admin to enable it")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def issue_access_token(user: User, secret: str, ttl: timedelta = ACCESS_TOKEN_TTL) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user.id),
        "name": user.username,
        "ver": user.token_version,
        "aud": JWT_AUDIENCE,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(
    session: Session, user: User, name: str, expires_in: timedelta | None = None
) -> tuple[ApiToken, str]:
    """A new API token; the plain value is returned once and only its SHA-256 is stored."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + expires_in if expires_in is not None else None
    row = ApiToken(user_id=user.id, name=name, token_hash=_token_hash(token), expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, token


def revoke_api_token(session: Session, user: User, token_id: int) -> None:
    """Delete an API token of ``user`` (an admin may revoke anyone's)."""
    row = users_repo.token_by_id(session, token_id) if 0 < token_id <= MAX_DB_INT else None
    if row is None or (row.user_id != user.id and user.role != "admin"):
        raise NotFound(f"API token {token_id} does not exist", hint="GET /api/v1/auth/tokens lists yours")
    session.delete(row)
    session.flush()


def _api_token_user(session: Session, token: str) -> User:
    row = users_repo.token_by_hash(session, _token_hash(token))
    if row is None:
        raise NotAuthenticated("unknown API token", hint="create a new token under your account")
    now = datetime.now(UTC)
    if row.expires_at is not None and row.expires_at <= now:
        raise NotAuthenticated("the API token has expired", hint="create a new token under your account")
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):  # not a write per call
        row.last_used_at = now
    return row.user


def _claims(token: str, secret: str) -> dict[str, object]:
    try:
        claims: dict[str, object] = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            options={"require": ["exp", "iat", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("the session has expired", hint="log in again") from exc
    except jwt.InvalidTokenError as exc:
        raise NotAuthenticated("the access token is not valid", hint="log in again") from exc
    return claims


def authenticate(session: Session, token: str, secret: str) -> User:
    """The user a bearer token (JWT access token or API token) belongs to."""
    if token.startswith(API_TOKEN_PREFIX):
        user = _api_token_user(session, token)
    else:
        claims = _claims(token, secret)
        sub, version = claims.get("sub"), claims.get("ver")
        if not isinstance(sub, str) or not sub.isascii() or not sub.isdigit() or len(sub) > 19:
            raise NotAuthenticated("the access token is not valid", hint="log in again")
        found = users_repo.by_id(session, int(sub)) if 0 < int(sub) <= MAX_DB_INT else None
        if found is None:
            raise NotAuthenticated("the token's user no longer exists", hint="log in again")
        if type(version) is not int or version != found.token_version:
            raise NotAuthenticated("the session was ended (logout or password change)", hint="log in again")
        user = found
    if user.disabled:
        raise NotAuthenticated("this user is disabled", hint="ask an admin to enable it")
    return user
