"""The one permission table of the portal (the seed's five roles, its permission split, deny by default).

Every route declares exactly one :class:`Permission` through :func:`dda.portal.api.deps.require`
(or :func:`dda.portal.api.deps.public`); ``tests/portal/test_rbac_matrix.py`` fails when a route
declares none and checks every route x role x use-case relation against :data:`ROLE_PERMISSIONS`.

Use-case permissions are decided by the caller's role in the use case named by the route's
``usecase_id`` path parameter; a caller with no role there gets 404 (no existence leak).
Global permissions are decided by the PortalAdmin flag; ``SELF`` needs only a valid login.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PORTAL_ADMIN = "PortalAdmin"
    USECASE_ADMIN = "UseCaseAdmin"
    DATA_SCIENTIST = "DataScientist"
    OPERATOR = "Operator"
    VIEWER = "Viewer"


USECASE_ROLES = (Role.USECASE_ADMIN, Role.DATA_SCIENTIST, Role.OPERATOR, Role.VIEWER)
# Order used where one role must be "at most" another (API tokens never exceed their owner).
ROLE_RANK = {
    Role.VIEWER: 0,
    Role.OPERATOR: 1,
    Role.DATA_SCIENTIST: 1,
    Role.USECASE_ADMIN: 2,
    Role.PORTAL_ADMIN: 3,
}


class Scope(StrEnum):
    PUBLIC = "public"  # no login (health, login itself)
    SELF = "self"  # any valid login (own profile, own password)
    GLOBAL = "global"  # PortalAdmin only
    USECASE = "usecase"  # decided by the role in the route's use case
    DEVICE = "device"  # a station's agent, by its signed request (never a user)


class Permission(StrEnum):
    # no login / any login
    PUBLIC = "public"
    SELF = "self"
    # global (PortalAdmin)
    USECASE_CREATE = "usecase:create"
    USECASE_DELETE = "usecase:delete"
    USERS_MANAGE = "users:manage"
    SETTINGS_MANAGE = "settings:manage"
    AUDIT_VIEW_ALL = "audit:view_all"
    DATA_LOCATIONS_MANAGE = "data_locations:manage"
    # per use case
    USECASE_VIEW = "usecase:view"
    USECASE_UPDATE = "usecase:update"
    TEAM_VIEW = "team:view"
    TEAM_MANAGE = "team:manage"
    AUDIT_VIEW = "audit:view"
    DATA_VIEW = "data:view"
    DATA_WRITE = "data:write"
    DATASET_VIEW = "dataset:view"
    DATASET_WRITE = "dataset:write"
    LABELING_VIEW = "labeling:view"
    LABELING_WRITE = "labeling:write"
    LABELING_WORK = "labeling:work"
    TRAINING_VIEW = "training:view"
    TRAINING_WRITE = "training:write"
    MODEL_VIEW = "model:view"
    MODEL_WRITE = "model:write"
    MODEL_DELETE = "model:delete"
    COMPONENT_VIEW = "component:view"
    COMPONENT_WRITE = "component:write"
    DEVICE_VIEW = "device:view"
    DEVICE_MANAGE = "device:manage"
    DEPLOYMENT_VIEW = "deployment:view"
    DEPLOYMENT_WRITE = "deployment:write"
    DEPLOYMENT_DELETE = "deployment:delete"
    DEVICE_AGENT = "device:agent"  # the station's own calls (signed with its device key)
    TOKEN_MANAGE = "token:manage"  # noqa: S105 - a permission name; own API tokens in this use case


SCOPES: dict[Permission, Scope] = {
    Permission.PUBLIC: Scope.PUBLIC,
    Permission.SELF: Scope.SELF,
    Permission.USECASE_CREATE: Scope.GLOBAL,
    Permission.USECASE_DELETE: Scope.GLOBAL,
    Permission.USERS_MANAGE: Scope.GLOBAL,
    Permission.SETTINGS_MANAGE: Scope.GLOBAL,
    Permission.AUDIT_VIEW_ALL: Scope.GLOBAL,
    Permission.DATA_LOCATIONS_MANAGE: Scope.GLOBAL,
    Permission.DEVICE_AGENT: Scope.DEVICE,
}


def scope_of(permission: Permission) -> Scope:
    return SCOPES.get(permission, Scope.USECASE)


_READ = {
    Permission.USECASE_VIEW,
    Permission.DATA_VIEW,
    Permission.DATASET_VIEW,
    Permission.LABELING_VIEW,
    Permission.TRAINING_VIEW,
    Permission.MODEL_VIEW,
    Permission.COMPONENT_VIEW,
    Permission.DEVICE_VIEW,
    Permission.TOKEN_MANAGE,
}
_DATA_SCIENCE = {
    Permission.DATA_WRITE,
    Permission.DATASET_WRITE,
    Permission.LABELING_WRITE,
    Permission.LABELING_WORK,
    Permission.TRAINING_WRITE,
    Permission.MODEL_WRITE,
    Permission.COMPONENT_WRITE,
}
_OPERATIONS = {Permission.DEPLOYMENT_VIEW, Permission.DEPLOYMENT_WRITE, Permission.DEVICE_MANAGE}
_ADMIN = {
    Permission.USECASE_UPDATE,
    Permission.TEAM_VIEW,
    Permission.TEAM_MANAGE,
    Permission.AUDIT_VIEW,
    Permission.MODEL_DELETE,
    Permission.DEPLOYMENT_DELETE,
}

# The table. The seed's split: DataScientist may not see or touch deployments; Operator may not
# create or train models; Viewer changes nothing; UseCaseAdmin does all within its use cases.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset(_READ | {Permission.DEPLOYMENT_VIEW}),
    Role.OPERATOR: frozenset(_READ | _OPERATIONS),
    Role.DATA_SCIENTIST: frozenset(_READ | _DATA_SCIENCE),
    Role.USECASE_ADMIN: frozenset(_READ | _DATA_SCIENCE | _OPERATIONS | _ADMIN),
    Role.PORTAL_ADMIN: frozenset(p for p in Permission if p is not Permission.DEVICE_AGENT),
}


def role_allows(role: Role | None, permission: Permission) -> bool:
    """Whether ``role`` (None: no role / only a login) holds ``permission`` in the relevant scope."""
    scope = scope_of(permission)
    if scope in (Scope.PUBLIC, Scope.SELF):
        return True
    if role is None or scope is Scope.DEVICE:
        return False
    return permission in ROLE_PERMISSIONS[role]


def permissions_of(role: Role) -> list[str]:
    """For the UI: what a role may do (it hides what it may not; the server still enforces)."""
    return sorted(p.value for p in ROLE_PERMISSIONS[role])
