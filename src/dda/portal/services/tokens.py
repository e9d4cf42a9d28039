"""API tokens for automation: one use case, one role (at most the creator's there), an expiry;
shown once and kept only as a SHA-256."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from dda.core.errors import InvalidInput, NotFound, PermissionDenied
from dda.portal.db import ApiToken
from dda.portal.permissions import Role
from dda.portal.principal import Principal, at_most
from dda.portal.repositories import users as users_repo
from dda.portal.security import API_TOKEN_PREFIX, new_opaque_token, token_hash

MAX_DAYS = 365


@dataclass(frozen=True)
class CreatedToken:
    row: ApiToken
    token: str  # the only time the secret exists outside the caller's hands


def create(
    session: Session, principal: Principal, usecase_id: str, *, name: str, role: str, expires_in_days: int
) -> CreatedToken:
    if principal.api_token_id is not None:
        raise PermissionDenied(
            "an API token may not create API tokens", hint="log in as a user to create one"
        )
    if not 1 <= expires_in_days <= MAX_DAYS:
        raise InvalidInput(f"a token expires after 1 to {MAX_DAYS} days", hint="pick a shorter expiry")
    wanted = Role(role)
    if wanted == Role.PORTAL_ADMIN or at_most(wanted, principal.role_in(usecase_id)) is None:
        raise PermissionDenied(
            f"a token may not hold more than your own role in this use case ({wanted.value} asked)",
            hint="pick your role or a lower one",
        )
    secret = new_opaque_token(API_TOKEN_PREFIX)
    row = ApiToken(
        user_id=principal.user_id,
        usecase_id=usecase_id,
        role=wanted.value,
        name=name,
        token_hash=token_hash(secret),
        expires_at=datetime.now(UTC) + timedelta(days=expires_in_days),
    )
    session.add(row)
    session.flush()
    return CreatedToken(row, secret)


def _visible(principal: Principal, row: ApiToken) -> bool:
    """A user sees all their tokens; an API token only its owner's tokens of its own use case."""
    if row.user_id != principal.user_id:
        return False
    return principal.api_token_id is None or row.usecase_id in principal.roles


def list_own(session: Session, principal: Principal, usecase_id: str | None = None) -> list[ApiToken]:
    rows = users_repo.api_tokens_of(session, principal.user_id, usecase_id)
    return [row for row in rows if _visible(principal, row)]


def revoke(session: Session, principal: Principal, token_id: str) -> ApiToken:
    """Revoke one of the caller's own tokens (another user's token id answers 404)."""
    row = users_repo.api_token(session, token_id)
    if row is None or not _visible(principal, row):
        raise NotFound(
            f"no API token {token_id[:64]!r} of yours", hint="list yours with GET /api/v1/auth/tokens"
        )
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    return row
