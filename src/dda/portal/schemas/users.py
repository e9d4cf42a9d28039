"""Users (PortalAdmin), use-case teams and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from dda.portal.schemas.common import Strict

Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$",
    ),
]
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Password = Annotated[str, Field(min_length=1, max_length=1024)]
UseCaseRoleName = Literal["UseCaseAdmin", "DataScientist", "Operator", "Viewer"]


class UserCreate(Strict):
    username: Username
    password: Password | None = None  # None: the user logs in only through OpenID Connect
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    display_name: str | None = Field(default=None, max_length=128, pattern=PRINTABLE)
    is_portal_admin: bool = False
    oidc_subject: str | None = Field(default=None, min_length=1, max_length=255)


class UserUpdate(Strict):
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    display_name: str | None = Field(default=None, max_length=128, pattern=PRINTABLE)
    disabled: bool | None = None
    is_portal_admin: bool | None = None


class PasswordReset(Strict):
    new_password: Password


class UserOut(BaseModel):
    id: str
    username: str
    email: str | None
    display_name: str | None
    is_portal_admin: bool
    disabled: bool
    has_password: bool
    oidc_linked: bool
    created_at: datetime
    password_changed_at: datetime | None


class MemberAdd(Strict):
    username: Username
    role: UseCaseRoleName


class MemberUpdate(Strict):
    role: UseCaseRoleName


class MemberOut(BaseModel):
    user_id: str
    username: str
    display_name: str | None
    role: str
    disabled: bool
    since: datetime


class ApiTokenCreate(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    role: UseCaseRoleName
    expires_in_days: int = Field(ge=1, le=365)


class ApiTokenOut(BaseModel):
    id: str
    name: str
    usecase_id: str
    role: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiTokenCreated(ApiTokenOut):
    token: str  # shown once; only its hash is kept
