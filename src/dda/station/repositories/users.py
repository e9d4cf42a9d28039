from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dda.station.db.models import ApiToken, User


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))


def list_all(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def token_by_id(session: Session, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id)


def tokens_of(session: Session, user_id: int) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)))
