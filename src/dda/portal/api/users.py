"""Users (PortalAdmin): create, list, read, update (disable, PortalAdmin flag), reset a password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import Access, SessionDep, require
from dda.portal.db import User
from dda.portal.permissions import Permission
from dda.portal.schemas.common import Limit, Page
from dda.portal.schemas.users import PasswordReset, UserCreate, UserOut, UserUpdate
from dda.portal.services import users as users_service
from dda.portal.services.audit import AuditEntry

router = APIRouter(prefix="/api/v1/users", tags=["users"])
ManageUsers = Annotated[Access, Depends(require(Permission.USERS_MANAGE))]


def to_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        email=user.email,
        display_name=user.display_name,
        is_portal_admin=user.is_portal_admin,
        disabled=user.disabled,
        has_password=user.password_hash is not None,
        oidc_linked=user.oidc_subject is not None,
        created_at=user.created_at,
        password_changed_at=user.password_changed_at,
    )


@router.post("", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, request: Request, session: SessionDep, access: ManageUsers) -> UserOut:
    user = users_service.create(session, body)
    summary = {"username": user.username, "is_portal_admin": user.is_portal_admin}
    summary["password"] = "set" if body.password is not None else "none (OpenID Connect only)"
    record(request, AuditEntry(action="user.create", target_type="user", target_id=user.id, summary=summary))
    return to_out(user)


@router.get("", response_model=Page[UserOut])
def list_users(
    session: SessionDep,
    access: ManageUsers,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
) -> Page[UserOut]:
    rows, next_cursor = users_service.page(session, after=cursor, limit=limit)
    return Page(items=[to_out(u) for u in rows], next_cursor=next_cursor)


@router.get("/{user}", response_model=UserOut)
def get_user(user: str, session: SessionDep, access: ManageUsers) -> UserOut:
    return to_out(users_service.find(session, user))


@router.patch("/{user}", response_model=UserOut)
def update_user(
    user: str, body: UserUpdate, request: Request, session: SessionDep, access: ManageUsers
) -> UserOut:
    row = users_service.find(session, user)
    changes = users_service.update(session, row, body, access.principal)
    record(request, AuditEntry(action="user.update", target_type="user", target_id=row.id, summary=changes))
    return to_out(row)


@router.post("/{user}/password", status_code=204)
def reset_password(
    user: str, body: PasswordReset, request: Request, session: SessionDep, access: ManageUsers
) -> None:
    row = users_service.find(session, user)
    users_service.admin_reset_password(session, row, body.new_password)
    record(
        request,
        AuditEntry(
            action="user.password_reset",
            target_type="user",
            target_id=row.id,
            summary={"sessions": "revoked"},
        ),
    )
