"""The generated RBAC matrix: every route of the app x every role x (own use case, another use
case, a use case that does not exist), checked against :data:`dda.portal.permissions.ROLE_PERMISSIONS`.

Nothing here lists routes: they come from the app, so routes added later are covered without edits.

Definitions (precise, so that 100 % can match):

* **denied** = the answer is 401 ``not_authenticated``, 403 ``permission_denied`` or 404
  ``usecase_not_found``; **allowed** = any other answer (a 2xx, a 404 for an object that does not
  exist, a 422 for the empty ``{}`` body we send...), except a 5xx, which is always a failure.
* **expected**: a ``public`` route is allowed for everyone (with or without a login; a 401 from it
  is its own credential check, e.g. a wrong password, and counts as allowed). Any other
  route denies an anonymous caller with 401. ``self`` routes allow every login. ``global`` routes
  allow a PortalAdmin and deny everyone else with 403. Use-case routes (they must have a
  ``{usecase_id}`` in their path): a use case that does not exist -> 404 for everyone; a use case
  where the caller holds no role -> 404 (never 403: no existence leak); otherwise the caller's role
  (PortalAdmin counts as one in every use case) decides: allowed, or 403. ``device`` routes (the
  stations' agent API) deny every user with 401: only a device signature opens them.

Destructive routes: after any successful mutating call the fixtures (users, roles, both use cases,
the logins) are checked and rebuilt under new names when something changed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from dda.core.errors import DDAError
from dda.portal.api.deps import api_routes, declared_permissions
from dda.portal.db import RoleAssignment, UseCase, User
from dda.portal.permissions import Permission, Role, Scope, role_allows, scope_of
from dda.portal.services import auth as auth_service
from tests.portal.conftest import PortalHarness

ANONYMOUS = "anonymous"
NO_ROLE = "no-role"
SUBJECTS = (
    Role.PORTAL_ADMIN.value,
    Role.USECASE_ADMIN.value,
    Role.DATA_SCIENTIST.value,
    Role.OPERATOR.value,
    Role.VIEWER.value,
    NO_ROLE,
    ANONYMOUS,
)
RELATIONS = ("own", "other", "missing")
DENY_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "usecase_not_found"}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
_PARAM = re.compile(r"{([^}:]+)(:[^}]*)?}")


def app_routes(harness: PortalHarness) -> list[Any]:
    """Every API route (FastAPI nests included routers; ``api_routes`` flattens them)."""
    routes = api_routes(harness.client.app)
    assert len(routes) >= 10, "the route walk found too few routes: the flattening broke"
    return routes


def test_routes_declare_exactly_one_permission(sqlite_portal: PortalHarness) -> None:
    """Deny by default: a route without exactly one permission declaration fails the suite."""
    missing = []
    for route in app_routes(sqlite_portal):
        if len(declared_permissions(route)) != 1:
            missing.append(f"{sorted(route.methods)} {route.path}: {declared_permissions(route)}")
    assert not missing, "routes without exactly one permission:\n" + "\n".join(missing)


def test_usecase_permissions_sit_on_usecase_routes(sqlite_portal: PortalHarness) -> None:
    """A use-case permission is decided by the role in the route's {usecase_id}: it needs one."""
    wrong = [
        f"{sorted(route.methods)} {route.path}"
        for route in app_routes(sqlite_portal)
        for permission in declared_permissions(route)
        if scope_of(permission) is Scope.USECASE and "{usecase_id}" not in route.path
    ]
    assert not wrong, "use-case permissions on routes without {usecase_id}:\n" + "\n".join(wrong)


@dataclass
class World:
    """Users (one per subject), the own and the other use case, and everyone's login. ``repair``
    fixes only what a route changed (a deleted use case costs no new logins)."""

    harness: PortalHarness
    own: str = ""
    other: str = ""
    user_ids: dict[str, str] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=lambda: {ANONYMOUS: {}})
    repairs: int = 0
    _serial: int = 0

    def build(self) -> None:
        for subject in SUBJECTS:
            if subject != ANONYMOUS:
                self._new_user(subject)
        self._new_usecases()
        self._sync_roles()

    def _name(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}-{self._serial}"

    def _new_user(self, subject: str) -> None:
        name = self._name(f"m-{subject.lower()}")
        self.user_ids[subject] = self.harness.make_user(name, admin=subject == Role.PORTAL_ADMIN.value)
        self.headers[subject] = self.harness.login(name)

    def _new_usecases(self) -> None:
        admin = self.headers[Role.PORTAL_ADMIN.value]
        self.own = self.harness.create_usecase(admin, self._name("own"))
        self.other = self.harness.create_usecase(admin, self._name("other"))

    def _wanted_roles(self) -> set[tuple[str, str, str]]:
        return {
            (user_id, self.own, subject)
            for subject, user_id in self.user_ids.items()
            if subject not in (Role.PORTAL_ADMIN.value, NO_ROLE)
        }

    def _sync_roles(self) -> None:
        with self.harness.portal.session() as session:
            ours = select(RoleAssignment).where(RoleAssignment.user_id.in_(list(self.user_ids.values())))
            for assignment in session.scalars(ours):
                session.delete(assignment)
            session.flush()
            for user_id, usecase_id, role in self._wanted_roles():
                session.add(RoleAssignment(user_id=user_id, usecase_id=usecase_id, role=role))

    def _broken_users(self) -> list[str]:
        broken = []
        portal = self.harness.portal
        with portal.session() as session:
            for subject, user_id in self.user_ids.items():
                user = session.get(User, user_id)
                if user is None or user.disabled or user.is_portal_admin != (subject == "PortalAdmin"):
                    broken.append(subject)
                    continue
                try:
                    auth_service.authenticate(session, portal, self.headers[subject]["Authorization"][7:])
                except DDAError:
                    broken.append(subject)
        return broken

    def _roles_changed(self) -> bool:
        with self.harness.portal.session() as session:
            found = {
                (a.user_id, a.usecase_id, a.role)
                for a in session.scalars(
                    select(RoleAssignment).where(RoleAssignment.user_id.in_(list(self.user_ids.values())))
                )
            }
        return found != self._wanted_roles()

    def _usecases_gone(self) -> bool:
        with self.harness.portal.session() as session:
            return bool({self.own, self.other} - set(session.scalars(select(UseCase.id))))

    def repair(self) -> None:
        """After a successful mutating call: put back whatever it changed."""
        broken = self._broken_users()
        for subject in broken:
            self._new_user(subject)
        gone = self._usecases_gone()
        if gone:
            self._new_usecases()
        if broken or gone or self._roles_changed():
            self.repairs += 1
            self._sync_roles()


def fill_path(route: Any, usecase_id: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "usecase_id":
            return usecase_id
        if match.group(2):  # {x:path}
            return "some/object.txt"
        return str(uuid.uuid4())

    return _PARAM.sub(value, route.path)


def expected_code(permission: Permission, subject: str, relation: str | None) -> str | None:
    """None when allowed; otherwise the error code the caller must get."""
    scope = scope_of(permission)
    if scope is Scope.PUBLIC:
        return None
    if subject == ANONYMOUS or scope is Scope.DEVICE:
        return "not_authenticated"  # stations' routes take a device signature, never a user's login
    if scope is Scope.SELF:
        return None
    if scope is Scope.GLOBAL:
        return None if subject == Role.PORTAL_ADMIN.value else "permission_denied"
    if relation == "missing":
        return "usecase_not_found"
    if subject == Role.PORTAL_ADMIN.value:
        role: Role | None = Role.PORTAL_ADMIN
    elif subject == NO_ROLE or relation == "other":
        role = None
    else:
        role = Role(subject)
    if role is None:
        return "usecase_not_found"
    return None if role_allows(role, permission) else "permission_denied"


def observed_code(status: int, body: Any) -> str | None:
    code = body.get("code") if isinstance(body, dict) else None
    return code if DENY_CODES.get(status) == code else None


def cases(routes: list[Any]) -> Iterator[tuple[Any, str, str | None]]:
    for route in sorted(routes, key=lambda r: (r.path, sorted(r.methods))):
        relations: tuple[str | None, ...] = RELATIONS if "{usecase_id}" in route.path else (None,)
        for method in sorted(route.methods):
            for relation in relations:
                yield route, method, relation


@pytest.mark.slow
def test_every_route_every_role_every_relation(sqlite_portal: PortalHarness) -> None:
    world = World(sqlite_portal)
    world.build()
    routes = [r for r in app_routes(sqlite_portal) if len(declared_permissions(r)) == 1]
    checked, mismatches = 0, []
    for route, method, relation in cases(routes):
        permission = declared_permissions(route)[0]
        # Least privileged first: a destructive call by an admin comes after everyone else's.
        for subject in reversed(SUBJECTS):
            usecase_id = {"own": world.own, "other": world.other}.get(relation or "", str(uuid.uuid4()))
            url = fill_path(route, usecase_id)
            body = {} if method in ("POST", "PUT", "PATCH") else None
            try:
                response = sqlite_portal.client.request(
                    method, url, json=body, headers=world.headers[subject]
                )
            except Exception as exc:  # an unhandled error in a route: a 500 for a real client
                mismatches.append(f"{method} {route.path} {subject}/{relation}: raised {type(exc).__name__}")
                world.repair()
                continue
            checked += 1
            status = response.status_code
            try:
                payload = response.json()
            except ValueError:
                payload = None
            want, got = expected_code(permission, subject, relation), observed_code(status, payload)
            if scope_of(permission) is Scope.PUBLIC and got == "not_authenticated":
                got = None  # a public route's own credential check (a wrong password), not RBAC
            if status >= 500 or want != got:
                mismatches.append(
                    f"{method} {route.path} [{permission.value}] {subject}/{relation}: "
                    f"expected {want or 'allowed'}, got {status} {got or ''} {str(payload)[:120]}"
                )
            if method in MUTATING and status < 400:
                world.repair()
    print(f"RBAC matrix: {checked} calls over {len(routes)} routes, {world.repairs} fixture repairs")
    assert checked > 0, mismatches[:5]
    assert not mismatches, f"{len(mismatches)} of {checked} calls do not match the table:\n" + "\n".join(
        mismatches
    )


@pytest.mark.parametrize("subject", SUBJECTS)
def test_expectations_follow_the_table(subject: str) -> None:
    """The expectation itself is derived from the table, never hard-coded per route."""
    for permission in Permission:
        code = expected_code(permission, subject, "own")
        if subject in (ANONYMOUS, NO_ROLE) or scope_of(permission) is not Scope.USECASE:
            continue
        assert (code is None) == (permission in _table_permissions(Role(subject)))


def _table_permissions(role: Role) -> frozenset[Permission]:
    from dda.portal.permissions import ROLE_PERMISSIONS

    return ROLE_PERMISSIONS[role]


def permission_table() -> str:
    """The permission table of docs/portal.md, rendered from the one table in the code."""
    roles = (Role.PORTAL_ADMIN, Role.USECASE_ADMIN, Role.DATA_SCIENTIST, Role.OPERATOR, Role.VIEWER)
    lines = [
        "| Permission | Scope | " + " | ".join(r.value for r in roles) + " |",
        "| --- | --- |" + " :-: |" * len(roles),
    ]
    for permission in Permission:
        scope = scope_of(permission)
        cells = []
        for role in roles:
            allowed = role is Role.PORTAL_ADMIN if scope is Scope.GLOBAL else role_allows(role, permission)
            cells.append("✓" if allowed else "")
        lines.append(f"| `{permission.value}` | {scope.value} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_docs_show_the_permission_table() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "portal.md").read_text()
    start = docs.index("<!-- permission-table:start")
    start = docs.index("\n", start) + 1
    end = docs.index("<!-- permission-table:end -->")
    assert docs[start:end].strip() == permission_table(), (
        "docs/portal.md's permission table is stale; paste the output of permission_table()"
    )
