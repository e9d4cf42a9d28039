"""Who is calling: a user (by login) or an API token (one use case, one role)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dda.portal.permissions import ROLE_RANK, Role


@dataclass(frozen=True)
class Principal:
    user_id: str
    username: str
    is_portal_admin: bool
    roles: dict[str, Role] = field(default_factory=dict)  # usecase_id -> role
    api_token_id: str | None = None  # set when the call came with an API token

    def role_in(self, usecase_id: str) -> Role | None:
        if self.is_portal_admin:
            return Role.PORTAL_ADMIN
        return self.roles.get(usecase_id)

    @property
    def global_role(self) -> Role | None:
        return Role.PORTAL_ADMIN if self.is_portal_admin else None


def at_most(role: Role, ceiling: Role | None) -> Role | None:
    """``role`` if the ceiling allows it (API tokens never exceed their owner's current role)."""
    if ceiling is None:
        return None
    if ceiling == Role.PORTAL_ADMIN or ROLE_RANK[role] < ROLE_RANK[ceiling] or role == ceiling:
        return role
    return None
