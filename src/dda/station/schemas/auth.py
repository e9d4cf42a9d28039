from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, computed_field

Role = Literal["admin", "operator", "viewer"]
USERNAME = r"^[A-Za-z0-9_.@-]+$"


class AuthStatus(BaseModel):
    setup_required: bool
    setup_code_required: bool = False  # true when this client is not on the station itself


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(..., min_length=1, max_length=64, pattern=USERNAME)
    password: SecretStr = Field(..., min_length=1, max_length=1024)


class NewAdmin(Credentials):
    password: SecretStr = Field(..., min_length=8, max_length=1024)
    setup_code: str | None = Field(
        None, max_length=64, description="The one-time code printed on the station's console"
    )


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    role: str
    disabled: bool
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(..., min_length=1, max_length=64, pattern=USERNAME)
    password: SecretStr = Field(..., min_length=8, max_length=1024)
    role: Role = "operator"


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    disabled: bool | None = None
    password: SecretStr | None = Field(None, min_length=8, max_length=1024)


class NewApiToken(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=100)
    expires_in_days: int | None = Field(90, ge=1, le=3650, description="null: valid until revoked")


class ApiTokenInfo(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class ApiTokenOut(BaseModel):
    id: int
    name: str
    token: str  # shown once; only its hash is stored
    expires_at: datetime | None = None
