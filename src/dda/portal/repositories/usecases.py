"""Queries on use cases and data locations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dda.portal.db import DataLocation, RoleAssignment, UseCase, UseCaseDataLocation


def by_id(session: Session, usecase_id: str) -> UseCase | None:
    return session.get(UseCase, usecase_id)


def by_name(session: Session, name: str) -> UseCase | None:
    return session.scalar(select(UseCase).where(UseCase.name == name))


def visible_to(session: Session, user_id: str, *, all_: bool, after: str | None, limit: int) -> list[UseCase]:
    """Use cases the user holds a role in (all of them for a PortalAdmin), by name, keyset-paged."""
    query = select(UseCase).order_by(UseCase.name)
    if not all_:
        query = query.join(RoleAssignment, RoleAssignment.usecase_id == UseCase.id).where(
            RoleAssignment.user_id == user_id
        )
    if after:
        query = query.where(UseCase.name > after)
    return list(session.scalars(query.limit(limit)))


def data_location(session: Session, location_id: str) -> DataLocation | None:
    return session.get(DataLocation, location_id)


def data_locations(session: Session) -> list[DataLocation]:
    return list(session.scalars(select(DataLocation).order_by(DataLocation.name)))


def attached_locations(session: Session, usecase_id: str) -> list[DataLocation]:
    return list(
        session.scalars(
            select(DataLocation)
            .join(UseCaseDataLocation, UseCaseDataLocation.data_location_id == DataLocation.id)
            .where(UseCaseDataLocation.usecase_id == usecase_id)
            .order_by(DataLocation.name)
        )
    )
