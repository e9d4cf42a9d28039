"""Logins, refresh-token rotation, logout, and turning a bearer token into a :class:`Principal`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from dda.core.errors import Conflict, InvalidInput, PermissionDenied
from dda.portal.context import Portal
from dda.portal.db import RefreshToken, User
from dda.portal.permissions import Role
from dda.portal.principal import Principal, at_most
from dda.portal.repositories import users as users_repo
from dda.portal.security import (
    API_TOKEN_PREFIX,
    REFRESH_TOKEN_PREFIX,
    NotAuthenticated,
    Throttled,
    decode_access_token,
    hash_password,
    issue_access_token,
    needs_rehash,
    new_opaque_token,
    token_hash,
    verify_password,
)

WRONG_LOGIN = "wrong username or password"
USERNAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,63}")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    user: User


def _now() -> datetime:
    return datetime.now(UTC)


def create_user(
    session: Session,
    username: str,
    password: str | None,
    *,
    is_portal_admin: bool = False,
    email: str | None = None,
    display_name: str | None = None,
    oidc_subject: str | None = None,
) -> User:
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise InvalidInput(
            "a username is 1-64 characters: letters, digits and . _ @ + -, starting with a letter or digit",
            hint="pick another name",
        )
    if users_repo.by_username(session, name) is not None:
        raise Conflict(f"user {name!r} already exists", hint="pick another name")
    if oidc_subject is not None and users_repo.by_oidc_subject(session, oidc_subject) is not None:
        raise Conflict("another user is linked to this OpenID Connect subject", hint="unlink it first")
    user = User(
        username=name,
        email=email,
        display_name=display_name,
        password_hash=hash_password(password) if password is not None else None,
        password_changed_at=_now() if password is not None else None,
        is_portal_admin=is_portal_admin,
        oidc_subject=oidc_subject,
    )
    session.add(user)
    session.flush()
    return user


def _check_throttle(portal: Portal, username: str, client: str) -> None:
    for key in (f"user:{username}", f"addr:{client}"):
        wait = portal.throttle.retry_after(key)
        if wait > 0:
            raise Throttled(
                "too many failed logins; try again later",
                retry_after=wait,
                hint=f"wait {wait} s; an admin can reset the password",
            )


def login(session: Session, portal: Portal, username: str, password: str, client: str) -> TokenPair:
    """Password login with back-off per account and per client address."""
    name = username.strip().lower()
    _check_throttle(portal, name, client)
    user = users_repo.by_username(session, name)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled:
        portal.throttle.failed(f"user:{name}")
        portal.throttle.failed(f"addr:{client}")
        raise NotAuthenticated(WRONG_LOGIN, hint="check both and try again")
    portal.throttle.clear(f"user:{name}")  # the address counter decays on its own (see throttle)
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return issue_tokens(session, portal, user)


def issue_tokens(session: Session, portal: Portal, user: User, family_id: str | None = None) -> TokenPair:
    from dda.portal.db import new_id

    settings = portal.settings.portal
    access, access_expires = issue_access_token(
        user_id=user.id,
        username=user.username,
        token_version=user.token_version,
        secret=portal.secret_key,
        issuer=settings.jwt_issuer,
        ttl_s=settings.access_token_ttl_s,
    )
    refresh = new_opaque_token(REFRESH_TOKEN_PREFIX)
    refresh_expires = _now() + timedelta(seconds=settings.refresh_token_ttl_s)
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id or new_id(),
            token_hash=token_hash(refresh),
            expires_at=refresh_expires,
        )
    )
    session.flush()
    return TokenPair(access, access_expires, refresh, refresh_expires, user)


def refresh(session: Session, portal: Portal, refresh_token: str) -> TokenPair:
    """Rotate: the presented token is spent and a new pair issued in the same family. A token that
    was already rotated means a copy was stolen: the whole family is revoked."""
    row = users_repo.refresh_by_hash(session, token_hash(refresh_token))
    if row is None:
        raise NotAuthenticated("the refresh token is not valid", hint="log in again")
    now = _now()
    if row.rotated_at is not None or row.revoked_at is not None:
        # In its own transaction: the request's one is rolled back when the 401 is raised.
        with portal.session() as own:
            users_repo.revoke_family(own, row.family_id, now)
        raise NotAuthenticated("the refresh token was already used or revoked", hint="log in again")
    user = users_repo.by_id(session, row.user_id)
    if row.expires_at <= now or user is None or user.disabled:
        raise NotAuthenticated("the refresh token has expired", hint="log in again")
    row.rotated_at = now
    return issue_tokens(session, portal, user, family_id=row.family_id)


def logout(session: Session, refresh_token: str | None, user_id: str, *, everywhere: bool = False) -> None:
    now = _now()
    if everywhere:
        user = users_repo.by_id(session, user_id)
        if user is not None:
            user.token_version += 1  # every access token issued so far stops working
        users_repo.revoke_all_refresh(session, user_id, now)
        return
    if refresh_token:
        row = users_repo.refresh_by_hash(session, token_hash(refresh_token))
        if row is not None and row.user_id == user_id:
            users_repo.revoke_family(session, row.family_id, now)


def require_login(principal: Principal, what: str) -> None:
    """Some things only the person may do, not an automation token acting for them."""
    if principal.api_token_id is not None:
        raise PermissionDenied(f"an API token may not {what}", hint="log in as the user to do this")


def _principal_for_user(session: Session, user: User) -> Principal:
    roles = {a.usecase_id: Role(a.role) for a in users_repo.roles_of(session, user.id)}
    return Principal(user.id, user.username, user.is_portal_admin, roles)


def authenticate(session: Session, portal: Portal, token: str) -> Principal:
    """The principal behind a bearer token (an access JWT or an API token)."""
    if token.startswith(API_TOKEN_PREFIX):
        return _authenticate_api_token(session, token)
    claims = decode_access_token(token, secret=portal.secret_key, issuer=portal.settings.portal.jwt_issuer)
    user = users_repo.by_id(session, claims["sub"])
    if user is None or user.disabled or user.token_version != claims["ver"]:
        raise NotAuthenticated("the access token was revoked", hint="log in again")
    return _principal_for_user(session, user)


def _authenticate_api_token(session: Session, token: str) -> Principal:
    row = users_repo.api_token_by_hash(session, token_hash(token))
    now = _now()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise NotAuthenticated("the API token is not valid, expired or revoked", hint="create a new one")
    user = users_repo.by_id(session, row.user_id)
    if user is None or user.disabled:
        raise NotAuthenticated("the API token's owner is disabled", hint="create a new token")
    owner = _principal_for_user(session, user)
    role = at_most(Role(row.role), owner.role_in(row.usecase_id))
    row.last_used_at = now
    roles = {row.usecase_id: role} if role is not None else {}
    # A token acts only inside its use case and never with its owner's PortalAdmin powers.
    return Principal(user.id, user.username, False, roles, api_token_id=row.id)
