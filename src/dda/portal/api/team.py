"""A use case's team: list members, add one with a role (by username), change the role, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import Access, SessionDep, require
from dda.portal.db import RoleAssignment, User
from dda.portal.permissions import Permission
from dda.portal.schemas.users import MemberAdd, MemberOut, MemberUpdate
from dda.portal.services import team as team_service
from dda.portal.services.audit import AuditEntry

router = APIRouter(prefix="/api/v1/usecases/{usecase_id}/members", tags=["team"])
ViewTeam = Annotated[Access, Depends(require(Permission.TEAM_VIEW))]
ManageTeam = Annotated[Access, Depends(require(Permission.TEAM_MANAGE))]


def to_out(assignment: RoleAssignment, user: User) -> MemberOut:
    return MemberOut(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=assignment.role,
        disabled=user.disabled,
        since=assignment.created_at,
    )


@router.get("", response_model=list[MemberOut])
def list_members(usecase_id: str, session: SessionDep, access: ViewTeam) -> list[MemberOut]:
    return [to_out(a, u) for a, u in team_service.members(session, usecase_id)]


@router.post("", response_model=MemberOut, status_code=201)
def add_member(
    usecase_id: str, body: MemberAdd, request: Request, session: SessionDep, access: ManageTeam
) -> MemberOut:
    assignment = team_service.add(session, usecase_id, body.username, body.role, access.principal)
    record(
        request,
        AuditEntry(
            action="team.add",
            target_type="user",
            target_id=assignment.user_id,
            summary={"username": body.username, "role": body.role},
        ),
    )
    row, user = team_service.membership(session, usecase_id, body.username)
    return to_out(row, user)


@router.patch("/{username}", response_model=MemberOut)
def change_member(
    usecase_id: str,
    username: str,
    body: MemberUpdate,
    request: Request,
    session: SessionDep,
    access: ManageTeam,
) -> MemberOut:
    old, new = team_service.change(session, usecase_id, username, body.role, access.principal)
    record(
        request,
        AuditEntry(
            action="team.change",
            target_type="user",
            target_id=username[:64],
            summary={"role": {"from": old, "to": new}},
        ),
    )
    assignment, user = team_service.membership(session, usecase_id, username)
    return to_out(assignment, user)


@router.delete("/{username}", status_code=204)
def remove_member(
    usecase_id: str, username: str, request: Request, session: SessionDep, access: ManageTeam
) -> None:
    old = team_service.remove(session, usecase_id, username, access.principal)
    record(
        request,
        AuditEntry(action="team.remove", target_type="user", target_id=username[:64], summary={"role": old}),
    )
