"""Route x role matrix: every route declares who may call it, and the station enforces it.

The routes come from the app itself, so a new route without a declared permission fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from dda.station.api.deps import PublicAccess, RoleCheck
from dda.station.services import auth as auth_service

ROLES = ("viewer", "operator", "admin")
# What each route should need: (method, path) -> role. Changing a permission means changing this.
EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/auth/status"): "public",
    ("POST", "/api/v1/auth/setup"): "public",
    ("POST", "/api/v1/auth/login"): "public",
    ("POST", "/api/v1/auth/logout"): "viewer",
    ("GET", "/api/v1/auth/me"): "viewer",
    ("GET", "/api/v1/auth/tokens"): "viewer",
    ("POST", "/api/v1/auth/tokens"): "viewer",
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): "viewer",
    ("GET", "/api/v1/users"): "admin",
    ("POST", "/api/v1/users"): "admin",
    ("PATCH", "/api/v1/users/{user_id}"): "admin",
    ("GET", "/api/v1/settings"): "admin",
    ("PUT", "/api/v1/settings"): "admin",
    ("GET", "/api/v1/plugins"): "viewer",
    ("GET", "/api/v1/image-sources"): "viewer",
    ("POST", "/api/v1/image-sources"): "operator",
    ("GET", "/api/v1/image-sources/{source_id}"): "viewer",
    ("PUT", "/api/v1/image-sources/{source_id}"): "operator",
    ("DELETE", "/api/v1/image-sources/{source_id}"): "operator",
    ("POST", "/api/v1/image-sources/{source_id}/preview"): "operator",
    ("POST", "/api/v1/image-sources/{source_id}/capture"): "operator",
    ("GET", "/api/v1/workflows"): "viewer",
    ("POST", "/api/v1/workflows"): "operator",
    ("GET", "/api/v1/workflows/{workflow_id}"): "viewer",
    ("PUT", "/api/v1/workflows/{workflow_id}"): "operator",
    ("DELETE", "/api/v1/workflows/{workflow_id}"): "operator",
    ("POST", "/api/v1/workflows/{workflow_id}/run"): "operator",
    ("POST", "/api/v1/workflows/{workflow_id}/start"): "operator",
    ("POST", "/api/v1/workflows/{workflow_id}/stop"): "operator",
    # Thresholds, recipes, revisions and drift (the decisions API).
    ("GET", "/api/v1/workflows/{workflow_id}/calibration"): "viewer",
    ("GET", "/api/v1/workflows/{workflow_id}/calibration/plot"): "viewer",
    ("POST", "/api/v1/workflows/{workflow_id}/calibration/apply"): "operator",
    ("PUT", "/api/v1/workflows/{workflow_id}/threshold"): "operator",
    ("PUT", "/api/v1/workflows/{workflow_id}/recipes"): "operator",
    ("PUT", "/api/v1/workflows/{workflow_id}/active-recipe"): "operator",
    ("GET", "/api/v1/workflows/{workflow_id}/revisions"): "viewer",
    ("POST", "/api/v1/workflows/{workflow_id}/revisions/{revision}/restore"): "operator",
    ("GET", "/api/v1/drift"): "viewer",
    ("POST", "/api/v1/workflows/{workflow_id}/drift/reset"): "operator",
    ("GET", "/api/v1/models"): "viewer",
    ("POST", "/api/v1/models"): "admin",
    ("GET", "/api/v1/models/{name}/{version}"): "viewer",
    ("DELETE", "/api/v1/models/{name}/{version}"): "admin",
    ("POST", "/api/v1/models/{name}/{version}/load"): "admin",
    ("POST", "/api/v1/models/{name}/{version}/unload"): "admin",
    ("GET", "/api/v1/results"): "viewer",
    ("GET", "/api/v1/results/summary"): "viewer",
    ("POST", "/api/v1/results/export"): "operator",
    ("GET", "/api/v1/results/{result_id}"): "viewer",
    ("PATCH", "/api/v1/results/{result_id}"): "operator",
    ("GET", "/api/v1/results/{result_id}/image"): "viewer",
    ("GET", "/api/v1/captures/{capture_id}/image"): "viewer",
    ("GET", "/api/v1/health"): "public",
    ("GET", "/api/v1/health/history"): "viewer",
    ("GET", "/metrics"): "viewer",
    ("GET", "/v2"): "public",
    ("GET", "/v2/health/live"): "public",
    ("GET", "/v2/health/ready"): "public",
    ("GET", "/v2/models/{name}"): "viewer",
    ("GET", "/v2/models/{name}/versions/{version}"): "viewer",
    ("GET", "/v2/models/{name}/ready"): "viewer",
    ("GET", "/v2/models/{name}/versions/{version}/ready"): "viewer",
    ("POST", "/v2/models/{name}/infer"): "operator",
    ("POST", "/v2/models/{name}/versions/{version}/infer"): "operator",
}
SAMPLE = {
    "token_id": "999",
    "user_id": "999",
    "source_id": "999",
    "workflow_id": "999",
    "result_id": "999",
    "revision": "1",
}


def declared_roles(dependant: Dependant) -> list[str]:
    """Every permission a route's dependency tree declares."""
    found = []
    for dependency in dependant.dependencies:
        call = dependency.call
        if isinstance(call, RoleCheck | PublicAccess):
            found.append(call.role)
        found += declared_roles(dependency)
    return found


def routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) of every API route the app serves (also inside included routers)."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.16x keeps included routers

        found = [(ctx.path, ctx.original_route) for ctx in iter_route_contexts(app.router.routes)]
    except ImportError:
        found = [(getattr(r, "path", None), r) for r in app.routes]
    return [
        (method, str(path), route)
        for path, route in found
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in sorted(route.methods)
    ]


def test_every_route_declares_exactly_one_permission(app: FastAPI) -> None:
    undeclared, wrong = [], []
    for method, path, route in routes(app):
        roles = declared_roles(route.dependant)
        if len(roles) != 1:
            undeclared.append(f"{method} {path}: {roles or 'no permission declared'}")
        elif EXPECTED.get((method, path)) != roles[0]:
            wrong.append(f"{method} {path}: declares {roles[0]}, expected {EXPECTED.get((method, path))}")
    assert not undeclared, "routes must declare Public/Viewer/Operator/Admin:\n" + "\n".join(undeclared)
    assert not wrong, "\n".join(wrong)
    assert {(m, p) for m, p, _ in routes(app)} == set(EXPECTED), "EXPECTED lists a route the app lacks"


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m.group(1), "x"), path)


def _tokens(client: TestClient) -> dict[str, dict[str, str]]:
    station = client.app.state.station  # type: ignore[attr-defined]
    headers = {}
    with station.session() as session:
        for role in ROLES:
            user = auth_service.create_user(session, f"u-{role}", "long-enough-pw", role=role)
            headers[role] = {
                "Authorization": f"Bearer {auth_service.issue_access_token(user, station.secret_key)}"
            }
    return headers


@pytest.mark.slow
def test_route_role_matrix_is_enforced(client: TestClient) -> None:
    """Each route x (anonymous, viewer, operator, admin): below the route's role -> 401/403,
    at or above it -> anything but 401/403 (404/422 for the made-up ids and bodies is fine)."""
    headers = _tokens(client)
    failures: list[str] = []
    app: Any = client.app
    for method, path, _ in routes(app):
        needed = EXPECTED[(method, path)]
        if path == "/api/v1/auth/logout":
            continue  # ends the caller's sessions: checked on its own below
        for role in (None, *ROLES):
            response = client.request(method, _url(path), headers=headers.get(role or "", {}), json={})
            allowed = needed == "public" or (role is not None and auth_service.role_allows(role, needed))
            denied = response.status_code in (401, 403)
            if allowed == denied or response.status_code >= 500:
                failures.append(f"{method} {path} as {role or 'anonymous'}: {response.status_code}")
            if role is None and needed != "public" and response.status_code != 401:
                failures.append(f"{method} {path} anonymous: {response.status_code}, expected 401")
    assert not failures, "\n".join(failures)
    assert client.post("/api/v1/auth/logout").status_code == 401
    assert client.post("/api/v1/auth/logout", headers=headers["viewer"]).status_code == 204
