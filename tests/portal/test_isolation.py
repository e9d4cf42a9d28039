"""Tenant isolation: one use case's ids and storage paths never reach another's.

* Store level: the store ``services.storage.store_for`` hands out for use case A refuses, or keeps
  inside A's root, every crafted key (``..``, absolute, URL-encoded, backslashes, B's id as a
  prefix), on the local store and on a real S3 API server.
* API level: every route under ``/usecases/{usecase_id}`` answers 404 (never 403) for B's id to a
  member of A only; every route that takes a key or path (in its path or query) is walked with the
  crafted keys and must neither show B's bytes nor change B's objects nor write outside A's root.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from dda.core.errors import DDAError, InvalidInput, NotFound
from dda.core.storage import ObjectStore
from dda.portal.api.deps import api_routes, declared_permissions
from dda.portal.permissions import Role, Scope, scope_of
from dda.portal.services import storage, usecases
from tests.portal.conftest import PortalHarness

SECRET_KEY_IN_B = "datasets/secret.txt"
KEY_PARAMS = {"key", "path", "prefix", "folder", "object_key", "file_path"}
_PARAM = re.compile(r"{([^}:]+)(:[^}]*)?}")


def crafted_keys(other_id: str) -> list[str]:
    target = f"{other_id}/{SECRET_KEY_IN_B}"
    return [
        f"../{target}",
        f"../../usecases/{target}",
        f"datasets/../../{target}",
        f"./../{target}",
        f"/usecases/{target}",
        "/etc/passwd",
        f"%2e%2e%2f{other_id}%2f{SECRET_KEY_IN_B.replace('/', '%2f')}",
        f"..%2f{target}",
        f"%2e%2e/{target}",
        f"..\\{other_id}\\datasets\\secret.txt",
        f"datasets\\..\\..\\{other_id}\\datasets\\secret.txt",
        f"{target}",  # B's id as a prefix: a name inside A's own root
        f"usecases/{target}",
        f"C:\\usecases\\{target}",
        f"datasets/\x00/../../{target}",
        "..",
        ".",
        "",
    ]


@dataclass
class Tenants:
    harness: PortalHarness
    admin: dict[str, str]
    a: str
    b: str
    b_secret: bytes

    def store(self, usecase_id: str) -> ObjectStore:
        with self.harness.portal.session() as session:
            row = usecases.get(session, usecase_id)
            return storage.store_for(self.harness.portal, "usecases", row, row.id)

    def snapshot(self) -> dict[str, bytes]:
        """Every object of the portal's store outside A's root, with its bytes."""
        root = self.harness.portal.store
        return {k: root.get_bytes(k) for k in root.list("") if not k.startswith(f"usecases/{self.a}/")}


def _tenants(harness: PortalHarness) -> Tenants:
    harness.make_user("root", admin=True)
    admin = harness.login("root")
    a, b = harness.create_usecase(admin, "tenant-a"), harness.create_usecase(admin, "tenant-b")
    tenants = Tenants(harness, admin, a, b, f"B-TENANT-SECRET-{uuid.uuid4().hex}".encode())
    tenants.store(b).put_bytes(SECRET_KEY_IN_B, tenants.b_secret)
    return tenants


@pytest.fixture(params=["local", "s3"])
def tenants(request: pytest.FixtureRequest, make_portal: Any, monkeypatch: pytest.MonkeyPatch) -> Tenants:
    """Two use cases on the portal's default store: a local folder, or a bucket of a real S3 API server."""
    if request.param == "local":
        return _tenants(make_portal(None))
    endpoint = request.getfixturevalue("moto_server")
    bucket = request.getfixturevalue("s3_bucket_name")
    for name, value in {
        "ENDPOINT_URL": endpoint,
        "ACCESS_KEY_ID": "testing",
        "SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(f"DDA_S3__{name}", value)
    harness = make_portal(None, object_store_url=f"s3://{bucket}/portal")
    assert harness.portal.store.url.startswith("s3://")
    return _tenants(harness)


def _outcome(operation: Callable[[], Any]) -> Any:
    try:
        return operation()
    except (InvalidInput, NotFound) as exc:
        return exc
    except DDAError as exc:  # any other refusal must still be a clean domain error
        return exc


def test_crafted_keys_never_leave_the_usecase_root(tenants: Tenants) -> None:
    store_a = tenants.store(tenants.a)
    before = tenants.snapshot()
    assert before[f"usecases/{tenants.b}/{SECRET_KEY_IN_B}"] == tenants.b_secret
    refused = 0
    for key in crafted_keys(tenants.b):
        got = _outcome(lambda key=key: store_a.get_bytes(key))
        assert got != tenants.b_secret, key
        if isinstance(got, InvalidInput):
            refused += 1
        assert _outcome(lambda key=key: store_a.exists(key)) is not True or key.startswith(tenants.b), key
        listed = _outcome(lambda key=key: store_a.list(key))
        if isinstance(listed, list):
            assert all(tenants.b_secret != store_a.get_bytes(k) for k in listed), key
        _outcome(lambda key=key: store_a.put_bytes(key, b"written by A"))
        _outcome(lambda key=key: store_a.delete(key))
    assert tenants.snapshot() == before, "a crafted key changed objects outside the use case's root"
    assert refused >= 8  # '..', absolute, backslash and NUL forms are refused outright


def test_other_tenant_ids_answer_404_on_every_usecase_route(tenants: Tenants) -> None:
    harness = tenants.harness
    harness.make_user("ada", role=Role.USECASE_ADMIN, usecase_id=tenants.a)
    ada = harness.login("ada")
    walked = 0
    for route in api_routes(harness.client.app):
        permissions = declared_permissions(route)
        if "{usecase_id}" not in route.path or scope_of(permissions[0]) is not Scope.USECASE:
            continue
        for method in sorted(route.methods):
            url = _PARAM.sub(
                lambda m: tenants.b if m.group(1) == "usecase_id" else str(uuid.uuid4()), route.path
            )
            body = {} if method in ("POST", "PUT", "PATCH") else None
            response = harness.client.request(method, url, json=body, headers=ada)
            assert response.status_code == 404, f"{method} {route.path}: {response.status_code}"
            assert response.json()["code"] == "usecase_not_found"
            walked += 1
    assert walked >= 5
    # Objects attached to B (a shared data location) are invisible from A.
    location = harness.client.post("/api/v1/data-locations", json={"name": "b-only"}, headers=tenants.admin)
    attach = f"/api/v1/usecases/{tenants.b}/data-locations/{location.json()['id']}"
    assert harness.client.put(attach, headers=tenants.admin).status_code == 200
    assert (
        harness.client.get(f"/api/v1/usecases/{tenants.a}/data-locations", headers=ada).json()["items"] == []
    )
    assert tenants.snapshot()[f"usecases/{tenants.b}/{SECRET_KEY_IN_B}"] == tenants.b_secret


def _key_routes(harness: PortalHarness) -> list[tuple[Any, str, str]]:
    """(route, method, where) for routes under a use case taking a key/path: where = path param or query."""
    found = []
    for route in api_routes(harness.client.app):
        if "{usecase_id}" not in route.path:
            continue
        path_names = {m.group(1) for m in _PARAM.finditer(route.path)}
        query_names = {p.name for p in route.dependant.query_params}
        for method in sorted(route.methods):
            found += [(route, method, f"path:{n}") for n in sorted(path_names & KEY_PARAMS)]
            found += [(route, method, f"query:{n}") for n in sorted(query_names & KEY_PARAMS)]
    return found


def test_routes_taking_keys_stay_inside_the_usecase(tenants: Tenants) -> None:
    """Walks whatever routes take a key or path (upload, browse, download... as they are added)."""
    harness = tenants.harness
    before = tenants.snapshot()
    problems = []
    for route, method, where in _key_routes(harness):
        kind, name = where.split(":")
        for key in crafted_keys(tenants.b):
            for encoded in {quote(key, safe=""), quote(key, safe="/")}:
                url, params = route.path, None
                if kind == "path":
                    url = url.replace(f"{{{name}:path}}", encoded).replace(f"{{{name}}}", encoded)
                else:
                    params = {name: key}
                url = _PARAM.sub(
                    lambda m: tenants.a if m.group(1) == "usecase_id" else str(uuid.uuid4()), url
                )
                body = {} if method in ("POST", "PUT", "PATCH") else None
                response = harness.client.request(
                    method, url, params=params, json=body, headers=tenants.admin
                )
                if response.status_code >= 500 or tenants.b_secret in response.content:
                    problems.append(f"{method} {route.path} {where}={key!r}: {response.status_code}")
    print(f"walked {len(_key_routes(harness))} key-taking route parameters")
    assert not problems, "\n".join(problems)
    assert tenants.snapshot() == before, "a crafted key through the API changed objects outside the use case"
