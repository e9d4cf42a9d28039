"""Queries on the model registry. Every lookup is scoped by ``usecase_id``: an id of another
tenant's model or version finds nothing (the API answers 404)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dda.portal.db import ModelPackage, ModelStageChange, ModelVersion, RegisteredModel


def model_by_id(
    session: Session, usecase_id: str, model_id: str, *, lock: bool = False
) -> RegisteredModel | None:
    query = select(RegisteredModel).where(
        RegisteredModel.usecase_id == usecase_id, RegisteredModel.id == model_id
    )
    return session.scalar(query.with_for_update() if lock else query)


def model_by_name(
    session: Session, usecase_id: str, name: str, *, lock: bool = False
) -> RegisteredModel | None:
    query = select(RegisteredModel).where(
        RegisteredModel.usecase_id == usecase_id, RegisteredModel.name == name
    )
    return session.scalar(query.with_for_update() if lock else query)


def models(session: Session, usecase_id: str, *, after: str | None, limit: int) -> list[RegisteredModel]:
    query = select(RegisteredModel).where(RegisteredModel.usecase_id == usecase_id)
    if after:
        query = query.where(RegisteredModel.name > after)
    return list(session.scalars(query.order_by(RegisteredModel.name).limit(limit)))


def version_by_id(session: Session, usecase_id: str, version_id: str) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(ModelVersion.usecase_id == usecase_id, ModelVersion.id == version_id)
    )


def versions(
    session: Session,
    usecase_id: str,
    model_id: str,
    *,
    before: int | None = None,
    limit: int = 100,
    stage: str | None = None,
) -> list[ModelVersion]:
    """Newest first; keyset on the version number."""
    query = select(ModelVersion).where(
        ModelVersion.usecase_id == usecase_id, ModelVersion.model_id == model_id
    )
    if before is not None:
        query = query.where(ModelVersion.version < before)
    if stage is not None:
        query = query.where(ModelVersion.stage == stage)
    return list(session.scalars(query.order_by(ModelVersion.version.desc()).limit(limit)))


def versions_in_stage(session: Session, model_id: str, stage: str) -> list[ModelVersion]:
    return list(
        session.scalars(
            select(ModelVersion)
            .where(ModelVersion.model_id == model_id, ModelVersion.stage == stage)
            .with_for_update()
        )
    )


def next_version_number(session: Session, model_id: str) -> int:
    current = session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.model_id == model_id))
    return int(current or 0) + 1


def count_versions(session: Session, model_id: str) -> int:
    return int(session.scalar(select(func.count()).where(ModelVersion.model_id == model_id)) or 0)


def latest_versions(session: Session, model_ids: list[str]) -> dict[str, ModelVersion]:
    """The newest version of each model (for list pages)."""
    if not model_ids:
        return {}
    newest = (
        select(ModelVersion.model_id, func.max(ModelVersion.version).label("v"))
        .where(ModelVersion.model_id.in_(model_ids))
        .group_by(ModelVersion.model_id)
        .subquery()
    )
    rows = session.scalars(
        select(ModelVersion).join(
            newest, (ModelVersion.model_id == newest.c.model_id) & (ModelVersion.version == newest.c.v)
        )
    )
    return {row.model_id: row for row in rows}


def production_versions(session: Session, model_ids: list[str]) -> dict[str, ModelVersion]:
    if not model_ids:
        return {}
    rows = session.scalars(
        select(ModelVersion).where(ModelVersion.model_id.in_(model_ids), ModelVersion.stage == "production")
    )
    return {row.model_id: row for row in rows}


def stage_history(session: Session, usecase_id: str, version_id: str) -> list[ModelStageChange]:
    return list(
        session.scalars(
            select(ModelStageChange)
            .where(ModelStageChange.usecase_id == usecase_id, ModelStageChange.version_id == version_id)
            .order_by(ModelStageChange.at, ModelStageChange.id)
        )
    )


def packages(session: Session, usecase_id: str, version_id: str) -> list[ModelPackage]:
    return list(
        session.scalars(
            select(ModelPackage)
            .where(ModelPackage.usecase_id == usecase_id, ModelPackage.version_id == version_id)
            .order_by(ModelPackage.target, ModelPackage.precision)
        )
    )


def package_for(session: Session, version_id: str, target: str, precision: str) -> ModelPackage | None:
    return session.scalar(
        select(ModelPackage).where(
            ModelPackage.version_id == version_id,
            ModelPackage.target == target,
            ModelPackage.precision == precision,
        )
    )
