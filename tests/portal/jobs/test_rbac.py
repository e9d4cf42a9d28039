"""Every jobs / labeling / components / signing-key route x every role: no role -> 404 (no
existence leak), a role without the route's permission -> 403, a role with it gets past the check."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from dda.portal.api.deps import declared_permissions
from dda.portal.permissions import ROLE_PERMISSIONS, Role
from tests.portal.conftest import PortalHarness

AREAS = re.compile(r"^/api/v1/usecases/\{usecase_id\}/(jobs|labeling|components|signing-keys)")
FAKE = "00000000-0000-0000-0000-000000000000"


def _routes() -> list[tuple[str, str, object]]:
    from dda.portal.api import components, jobs, labeling

    found = []
    # The routers' own routes (the app wraps included routers, so app.routes does not list them).
    for route in [*jobs.router.routes, *labeling.router.routes, *components.router.routes]:
        if isinstance(route, APIRoute) and AREAS.match(route.path):
            (permission,) = declared_permissions(route)
            for method in sorted(route.methods):
                found.append((method, route.path, permission))
    return found


def test_every_new_route_against_every_role(sqlite_portal: PortalHarness) -> None:
    h = sqlite_portal
    h.make_user("admin", admin=True)
    usecase_id = h.create_usecase(h.login("admin"), "line-1")
    other_id = h.create_usecase(h.login("admin"), "line-2")
    headers = {}
    for role in (Role.USECASE_ADMIN, Role.DATA_SCIENTIST, Role.OPERATOR, Role.VIEWER):
        name = role.value.lower()
        h.make_user(name, role=role, usecase_id=usecase_id)
        headers[role] = h.login(name)
    h.make_user("outsider", role=Role.USECASE_ADMIN, usecase_id=other_id)
    outsider = h.login("outsider")
    routes = _routes()
    assert len(routes) >= 20
    wrong = []
    for method, path, permission in routes:
        url = re.sub(r"\{(?!usecase_id)[a-z_]+\}", FAKE, path).replace("{usecase_id}", usecase_id)
        response = h.client.request(method, url, json={}, headers=outsider)
        if response.status_code != 404 or response.json().get("code") != "usecase_not_found":
            wrong.append(f"outsider {method} {path}: {response.status_code}")
        for role, role_headers in headers.items():
            response = h.client.request(method, url, json={}, headers=role_headers)
            allowed = permission in ROLE_PERMISSIONS[role]
            denied = response.status_code == 403 and response.json().get("code") == "permission_denied"
            if allowed == denied or response.status_code >= 500:
                wrong.append(f"{role.value} {method} {path}: {response.status_code} (allowed={allowed})")
    assert not wrong, "\n".join(wrong)
