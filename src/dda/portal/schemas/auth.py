"""Login, tokens and the caller's own profile."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from dda.portal.schemas.common import Strict


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(Strict):
    refresh_token: str = Field(min_length=1, max_length=200)


class LogoutRequest(Strict):
    refresh_token: str | None = Field(default=None, max_length=200)
    everywhere: bool = False


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type
    expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


class UseCaseRole(BaseModel):
    usecase_id: str
    usecase_name: str
    role: str
    permissions: list[str]


class MeResponse(BaseModel):
    id: str
    username: str
    email: str | None
    display_name: str | None
    is_portal_admin: bool
    roles: list[UseCaseRole]
    global_permissions: list[str]


class ChangePasswordRequest(Strict):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class OidcInfo(BaseModel):
    enabled: bool
    login_url: str | None = None
