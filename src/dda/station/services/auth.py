"""Local accounts: argon2id password hashes, JWT access tokens, hashed API tokens."""

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

from dda.core.errors import Conflict, DDAError, InvalidInput
from dda.station.db.models import ApiToken, User
from dda.station.repositories import users as users_repo

ACCESS_TOKEN_TTL = timedelta(hours=12)
API_TOKEN_PREFIX = "dda_"  # noqa: S105 - a marker, not a secret
JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "dda-station"
MIN_PASSWORD = 8

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


def setup_required(session: Session) -> bool:
    return users_repo.count(session) == 0


def create_user(session: Session, username: str, password: str, *, is_admin: bool = True) -> User:
    if users_repo.by_username(session, username) is not None:
        raise Conflict(f"user {username!r} already exists", hint="pick another name, or log in as that user")
    user = User(username=username, password_hash=hash_password(password), is_admin=is_admin)
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
    return create_user(session, username, password, is_admin=True)


def set_password(session: Session, username: str, password: str) -> User:
    user = users_repo.by_username(session, username)
    if user is None:
        raise InvalidInput(f"no user {username!r}", hint="create it first")
    user.password_hash = hash_password(password)
    return user


def check_login(session: Session, username: str, password: str) -> User:
    user = users_repo.by_username(session, username)
    if user is None:
        verify_password(_DUMMY_HASH, password)
        raise NotAuthenticated("wrong username or password", hint="check both and try again")
    if not verify_password(user.password_hash, password):
        raise NotAuthenticated("wrong username or password", hint="check both and try again")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def issue_access_token(user: User, secret: str, ttl: timedelta = ACCESS_TOKEN_TTL) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "name": user.username, "aud": JWT_AUDIENCE, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """A new API token; the plain value is returned once and only its SHA-256 is stored."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=_token_hash(token))
    session.add(row)
    session.flush()
    return row, token


def authenticate(session: Session, token: str, secret: str) -> User:
    """The user a bearer token (JWT access token or API token) belongs to."""
    if token.startswith(API_TOKEN_PREFIX):
        row = users_repo.token_by_hash(session, _token_hash(token))
        if row is None:
            raise NotAuthenticated("unknown API token", hint="create a new token under your account")
        now = datetime.now(UTC)
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):  # not a write per call
            row.last_used_at = now
        return row.user
    try:
        claims = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], audience=JWT_AUDIENCE)
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("the session has expired", hint="log in again") from exc
    except jwt.InvalidTokenError as exc:
        raise NotAuthenticated("the access token is not valid", hint="log in again") from exc
    user = users_repo.by_id(session, int(claims["sub"]))
    if user is None:
        raise NotAuthenticated("the token's user no longer exists", hint="log in again")
    return user
