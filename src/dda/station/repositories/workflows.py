from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dda.station.db.models import Workflow


def list_all(session: Session) -> list[Workflow]:
    return list(session.scalars(select(Workflow).order_by(Workflow.id)))


def by_id(session: Session, workflow_id: int) -> Workflow | None:
    return session.get(Workflow, workflow_id)


def by_name(session: Session, name: str) -> Workflow | None:
    return session.scalar(select(Workflow).where(Workflow.name == name))


def with_state(session: Session, state: str) -> list[Workflow]:
    return list(session.scalars(select(Workflow).where(Workflow.state == state).order_by(Workflow.id)))


def names_pinning(session: Session, model_name: str, model_version: str) -> list[str]:
    query = select(Workflow.name).where(
        Workflow.model_name == model_name, Workflow.model_version == model_version
    )
    return list(session.scalars(query))
