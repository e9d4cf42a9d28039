from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dda.station.db.models import ImageSource, Workflow


def list_all(session: Session) -> list[ImageSource]:
    return list(session.scalars(select(ImageSource).order_by(ImageSource.id)))


def by_id(session: Session, source_id: int) -> ImageSource | None:
    return session.get(ImageSource, source_id)


def by_name(session: Session, name: str) -> ImageSource | None:
    return session.scalar(select(ImageSource).where(ImageSource.name == name))


def workflow_names_using(session: Session, source_id: int) -> list[str]:
    return list(session.scalars(select(Workflow.name).where(Workflow.source_id == source_id)))
