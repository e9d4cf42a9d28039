"""Use cases: create with onboarding, read, update, delete; teams are in :mod:`.team`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from dda.core.errors import Conflict, DDAError, InvalidInput, NotFound
from dda.portal.context import Portal
from dda.portal.db import RoleAssignment, UseCase
from dda.portal.permissions import Role
from dda.portal.principal import Principal
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.repositories import users as users_repo
from dda.portal.schemas.usecases import UseCaseCreate, UseCaseUpdate
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
    if body.s3 is not None:
        row.storage_kind = "s3"
        row.s3_endpoint_url = body.s3.endpoint_url
        row.s3_bucket = body.s3.bucket
        row.s3_region = body.s3.region
        row.storage_prefix = body.s3.prefix.strip("/")
        row.s3_access_key_id = body.s3.access_key_id
        if body.s3.secret_access_key is not None:
            row.s3_secret_encrypted = storage.encrypt_secret(
                portal, body.s3.secret_access_key.get_secret_value()
            )
    session.add(row)
    session.flush()
    # The owner administers the use case (the seed: creator -> UseCaseAdmin).
    session.add(RoleAssignment(user_id=owner_id, usecase_id=row.id, role=Role.USECASE_ADMIN.value))
    onboard(portal, row)
    session.flush()
    return row


def onboard(portal: Portal, row: UseCase) -> None:
    """Check the location is reachable and writable, lay out its folders, record the outcome.
    A failure is recorded on the use case (status 'failed' + reason) and can be retried."""
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
    except DDAError as exc:
        row.onboarding_status = "failed"
        row.onboarding_error = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
        return
    except Exception as exc:  # botocore and OS errors: record, never leak a traceback
        row.onboarding_status = "failed"
        row.onboarding_error = f"the storage location is not reachable or not writable ({type(exc).__name__})"
        return
    row.onboarding_status = "ready"
    row.onboarding_error = None
    row.onboarded_at = datetime.now(UTC)


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
    is lost: an admin removes them deliberately)."""
    session.delete(row)
