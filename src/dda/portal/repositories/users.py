"""Queries on users, role assignments and tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dda.portal.db import ApiToken, RefreshToken, RoleAssignment, User


def by_id(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def by_oidc_subject(session: Session, subject: str) -> User | None:
    return session.scalar(select(User).where(User.oidc_subject == subject))


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def list_all(session: Session, *, after: str | None = None, limit: int = 100) -> list[User]:
    query = select(User).order_by(User.username)
    if after:
        query = query.where(User.username > after)
    return list(session.scalars(query.limit(limit)))


def roles_of(session: Session, user_id: str) -> list[RoleAssignment]:
    return list(session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user_id)))


def role_assignment(session: Session, user_id: str, usecase_id: str) -> RoleAssignment | None:
    return session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.user_id == user_id, RoleAssignment.usecase_id == usecase_id
        )
    )


def members_of(session: Session, usecase_id: str) -> list[tuple[RoleAssignment, User]]:
    rows = session.execute(
        select(RoleAssignment, User)
        .join(User, User.id == RoleAssignment.user_id)
        .where(RoleAssignment.usecase_id == usecase_id)
        .order_by(User.username)
    )
    return [(assignment, user) for assignment, user in rows]


def refresh_by_hash(session: Session, digest: str) -> RefreshToken | None:
    return session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest))


def revoke_family(session: Session, family_id: str, when: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=when)
    )


def revoke_all_refresh(session: Session, user_id: str, when: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=when)
    )


def api_token_by_hash(session: Session, digest: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))


def api_tokens_of(session: Session, user_id: str, usecase_id: str | None = None) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user_id)
    if usecase_id is not None:
        query = query.where(ApiToken.usecase_id == usecase_id)
    return list(session.scalars(query.order_by(ApiToken.created_at, ApiToken.id)))


def api_token(session: Session, token_id: str) -> ApiToken | None:
    return session.get(ApiToken, token_id)


def usecase_admins(session: Session, usecase_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(RoleAssignment)
            .where(RoleAssignment.usecase_id == usecase_id, RoleAssignment.role == "UseCaseAdmin")
        )
        or 0
    )
