"""User administration: passwords, disable, PortalAdmin flag, roles in use cases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from dda.core.errors import Conflict, InvalidInput, NotFound
from dda.portal.db import User
from dda.portal.principal import Principal
from dda.portal.repositories import users as users_repo
from dda.portal.schemas.users import UserCreate, UserUpdate
from dda.portal.security import NotAuthenticated, hash_password, verify_password
from dda.portal.services.auth import create_user


def get(session: Session, user_id: str) -> User:
    user = users_repo.by_id(session, user_id)
    if user is None:
        raise NotFound(f"no user {user_id!r}", hint="list users with GET /api/v1/users")
    return user


def _revoke_sessions(session: Session, user: User) -> None:
    user.token_version += 1
    users_repo.revoke_all_refresh(session, user.id, datetime.now(UTC))


def set_password(session: Session, user: User, new_password: str) -> None:
    """New password; every earlier login of the user stops working."""
    user.password_hash = hash_password(new_password)
    user.password_changed_at = datetime.now(UTC)
    _revoke_sessions(session, user)


def change_own_password(session: Session, user_id: str, current: str, new: str) -> None:
    user = get(session, user_id)
    if not verify_password(user.password_hash, current):
        raise NotAuthenticated("the current password is wrong", hint="type it again")
    if current == new:
        raise InvalidInput("the new password is the current one", hint="choose a different password")
    set_password(session, user, new)


def set_disabled(session: Session, user: User, disabled: bool) -> None:
    user.disabled = disabled
    if disabled:
        _revoke_sessions(session, user)


def find(session: Session, ref: str) -> User:
    """A user by id or by username."""
    user = users_repo.by_id(session, ref) or users_repo.by_username(session, ref)
    if user is None:
        raise NotFound(f"no user {ref[:64]!r}", hint="list users with GET /api/v1/users")
    return user


def create(session: Session, body: UserCreate) -> User:
    """A local user (policy-checked password) or an OpenID Connect one (no password; optionally
    linked to its subject now, else linked by username at its first OIDC login)."""
    return create_user(
        session,
        body.username,
        body.password,
        is_portal_admin=body.is_portal_admin,
        email=body.email,
        display_name=body.display_name,
        oidc_subject=body.oidc_subject,
    )


def page(session: Session, *, after: str | None, limit: int) -> tuple[list[User], str | None]:
    rows = users_repo.list_all(session, after=after, limit=limit + 1)
    next_cursor = rows[limit - 1].username if len(rows) > limit else None
    return rows[:limit], next_cursor


def update(session: Session, user: User, body: UserUpdate, actor: Principal) -> dict[str, object]:
    """Profile fields, disable/enable and the PortalAdmin flag; returns the change summary."""
    changes: dict[str, object] = {}
    if user.id == actor.user_id and (body.disabled or body.is_portal_admin is False):
        raise Conflict(
            "you may not disable yourself or drop your own PortalAdmin role",
            hint="ask another PortalAdmin (the portal must keep one who can log in)",
        )
    for name in ("email", "display_name", "is_portal_admin"):
        value = getattr(body, name)
        if value is not None and value != getattr(user, name):
            setattr(user, name, value)
            changes[name] = value
    if body.disabled is not None and body.disabled != user.disabled:
        set_disabled(session, user, body.disabled)
        changes["disabled"] = body.disabled
    return changes


def admin_reset_password(session: Session, user: User, new_password: str) -> None:
    """A PortalAdmin sets a new password (policy-checked); every session of the user ends."""
    set_password(session, user, new_password)
