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
