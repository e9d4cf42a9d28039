"""Use cases: create with onboarding, read, update, delete; teams are in :mod:`.team`."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session

from dda.core.errors import Conflict, InvalidInput, NotFound
from dda.portal.context import Portal
from dda.portal.db import ApiToken, RoleAssignment, UseCase, UseCaseDataLocation
from dda.portal.permissions import Role
from dda.portal.principal import Principal
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.repositories import users as users_repo
from dda.portal.schemas.usecases import (
    StorageChange,
    UseCaseCreate,
    UseCaseSettings,
    UseCaseSettingsPatch,
    UseCaseUpdate,
)
from dda.portal.services import storage

ONBOARDING_PROBE = "_dda-onboarding-check"


def get(session: Session, usecase_id: str) -> UseCase:
    row = usecases_repo.by_id(session, usecase_id)
    if row is None:
        raise NotFound(f"no use case {usecase_id!r}", hint="pick one from GET /api/v1/usecases")
    return row


def create(session: Session, portal: Portal, body: UseCaseCreate, creator: Principal) -> UseCase:
    if usecases_repo.by_name(session, body.name) is not None:
        raise Conflict(f"a use case named {body.name!r} exists", hint="pick another name")
    owner_id = creator.user_id
    if body.owner_username:
        owner = users_repo.by_username(session, body.owner_username)
        if owner is None:
            raise InvalidInput(
                f"no user {body.owner_username!r} to own the use case", hint="create the user first"
            )
        owner_id = owner.id
    row = UseCase(
        name=body.name,
        description=body.description,
        cost_center=body.cost_center,
        owner_id=owner_id,
        settings=body.settings.model_dump(mode="json"),
    )
    storage.apply_location(portal, row, body.s3)
    session.add(row)
    session.flush()
    # The owner administers the use case (the seed: creator -> UseCaseAdmin).
    session.add(RoleAssignment(user_id=owner_id, usecase_id=row.id, role=Role.USECASE_ADMIN.value))
    onboard(portal, row)
    session.flush()
    return row


def onboard(portal: Portal, row: UseCase) -> None:
    """Check the location is reachable and writable, lay out its folders, record the outcome.
    A failure is recorded on the use case (status 'failed' + a reason without credentials) and can
    be retried (POST .../onboard) once the location is fixed."""
    try:
        store = storage.store_for(portal, "usecases", row, row.id)
        store.put_bytes(ONBOARDING_PROBE, b"ok")
        if store.get_bytes(ONBOARDING_PROBE) != b"ok":
            raise InvalidInput(
                "the storage location did not return what was written", hint="check the server"
            )
        store.delete(ONBOARDING_PROBE)
        for folder in storage.LAYOUT:
            store.put_bytes(f"{folder}/README.txt", f"DDA use case {row.name}: {folder}\n".encode())
    except Exception as exc:  # botocore, OS and DDA errors alike: record, never leak a traceback
        row.onboarding_status = "failed"
        row.onboarding_error = storage.failure_reason(portal, row, exc)
        return
    row.onboarding_status = "ready"
    row.onboarding_error = None
    row.onboarded_at = datetime.now(UTC)


def change_storage(portal: Portal, row: UseCase, body: StorageChange) -> None:
    """Point a use case that is not onboarded yet at another location and onboard it there."""
    if row.onboarding_status == "ready":
        raise Conflict(
            "this use case is onboarded: its objects live at its current location",
            hint="create a new use case for another location (moving stored objects is not automatic)",
        )
    storage.apply_location(portal, row, body.s3)
    onboard(portal, row)


def settings_of(row: UseCase) -> UseCaseSettings:
    """The use case's settings with defaults for anything stored before a field existed."""
    stored = row.settings if isinstance(row.settings, dict) else {}
    kept: dict[str, object] = {}
    for name in UseCaseSettings.model_fields:  # a value no longer valid falls back to its default
        if name in stored:
            try:
                UseCaseSettings.model_validate({name: stored[name]})
            except ValidationError:
                continue
            kept[name] = stored[name]
    return UseCaseSettings.model_validate(kept)


def patch_settings(row: UseCase, body: UseCaseSettingsPatch) -> dict[str, object]:
    changes = body.model_dump(exclude_unset=True, mode="json")
    merged = settings_of(row).model_dump(mode="json") | {k: v for k, v in changes.items() if v is not None}
    row.settings = UseCaseSettings.model_validate(merged).model_dump(mode="json")
    return {k: v for k, v in changes.items() if v is not None}


def update(session: Session, row: UseCase, body: UseCaseUpdate) -> dict[str, object]:
    changes: dict[str, object] = {}
    if body.name is not None and body.name != row.name:
        if usecases_repo.by_name(session, body.name) is not None:
            raise Conflict(f"a use case named {body.name!r} exists", hint="pick another name")
        changes["name"] = row.name = body.name
    if body.description is not None:
        changes["description"] = row.description = body.description
    if body.cost_center is not None:
        changes["cost_center"] = row.cost_center = body.cost_center
    if body.settings is not None:
        row.settings = body.settings.model_dump(mode="json")
        changes["settings"] = row.settings
    return changes


def delete(session: Session, row: UseCase) -> None:
    """Removes the record and its role assignments; the objects in its store are kept (nothing stored
    is lost: an admin removes them deliberately). Rows that point at it are removed explicitly, so
    nothing is left behind where the database does not enforce foreign keys (SQLite)."""
    session.execute(sa.delete(ApiToken).where(ApiToken.usecase_id == row.id))
    session.execute(sa.delete(RoleAssignment).where(RoleAssignment.usecase_id == row.id))
    session.execute(sa.delete(UseCaseDataLocation).where(UseCaseDataLocation.usecase_id == row.id))
    session.delete(row)
