"""Station users (admin only): list, add with a role, change role, disable, reset password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from dda.station.api.deps import Admin, SessionDep
from dda.station.repositories import users as users_repo
from dda.station.schemas.auth import NewUser, UserOut, UserUpdate
from dda.station.services import auth as auth_service

router = APIRouter(prefix="/api/v1/users", tags=["users"])
DbId = Annotated[int, Path(ge=1, le=auth_service.MAX_DB_INT)]


@router.get("")
def list_users(_: Admin, session: SessionDep) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in users_repo.list_all(session)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_user(data: NewUser, _: Admin, session: SessionDep) -> UserOut:
    user = auth_service.create_user(session, data.username, data.password.get_secret_value(), role=data.role)
    return UserOut.model_validate(user)


@router.patch("/{user_id}")
def update_user(user_id: DbId, data: UserUpdate, _: Admin, session: SessionDep) -> UserOut:
    """Role, disabled, new password: disabling or a new password ends the user's sessions."""
    password = data.password.get_secret_value() if data.password is not None else None
    user = auth_service.update_user(
        session, user_id, role=data.role, disabled=data.disabled, password=password
    )
    return UserOut.model_validate(user)
