"""A use case's team: who holds which role there (UseCaseAdmins and PortalAdmins manage it)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dda.core.errors import Conflict, NotFound
from dda.portal.db import RoleAssignment, User
from dda.portal.permissions import Role
from dda.portal.principal import Principal
from dda.portal.repositories import users as users_repo


def members(session: Session, usecase_id: str) -> list[tuple[RoleAssignment, User]]:
    return users_repo.members_of(session, usecase_id)


def _user(session: Session, username: str) -> User:
    user = users_repo.by_username(session, username)
    if user is None:
        raise NotFound(f"no user {username[:64]!r}", hint="a PortalAdmin creates users first")
    return user


def membership(session: Session, usecase_id: str, username: str) -> tuple[RoleAssignment, User]:
    user = _user(session, username)
    assignment = users_repo.role_assignment(session, user.id, usecase_id)
    if assignment is None:
        raise NotFound(f"{user.username} has no role in this use case", hint="add them first")
    return assignment, user


def _guard_self(actor: Principal, user: User) -> None:
    """A UseCaseAdmin may not change or drop their own role (nobody locks a team out by mistake);
    a PortalAdmin may, since it keeps its global access anyway."""
    if user.id == actor.user_id and not actor.is_portal_admin:
        raise Conflict("you may not change your own role", hint="ask another UseCaseAdmin or a PortalAdmin")


def add(session: Session, usecase_id: str, username: str, role: str, actor: Principal) -> RoleAssignment:
    user = _user(session, username)
    if users_repo.role_assignment(session, user.id, usecase_id) is not None:
        raise Conflict(f"{user.username} already has a role here", hint="change it with PATCH instead")
    assignment = RoleAssignment(user_id=user.id, usecase_id=usecase_id, role=Role(role).value)
    session.add(assignment)
    session.flush()
    return assignment


def change(session: Session, usecase_id: str, username: str, role: str, actor: Principal) -> tuple[str, str]:
    """Returns (old role, new role)."""
    assignment, user = membership(session, usecase_id, username)
    _guard_self(actor, user)
    old = assignment.role
    assignment.role = Role(role).value
    return old, assignment.role


def remove(session: Session, usecase_id: str, username: str, actor: Principal) -> str:
    """Returns the role the user held."""
    assignment, user = membership(session, usecase_id, username)
    _guard_self(actor, user)
    old = assignment.role
    session.delete(assignment)
    return old
