"""User administration: passwords, disable, PortalAdmin flag, roles in use cases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from dda.core.errors import InvalidInput, NotFound
from dda.portal.db import User
from dda.portal.repositories import users as users_repo
from dda.portal.security import NotAuthenticated, hash_password, verify_password


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
