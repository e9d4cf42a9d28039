"""Fleet test harness: a portal with a use case, an Operator, signed packages in the use case's
store (built with the use case's own signing key) and simulated or real devices."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dda.fleet_protocol import DeviceFacts, EnrollRequest, sign_request
from dda.packaging.install import archive_package
from dda.portal.permissions import Role
from dda.portal.services import signing_keys, storage
from dda.portal.services import usecases as usecases_service
from tests.fleet.processes import portal_process  # noqa: F401 - fixture
from tests.portal.conftest import (  # noqa: F401 - fixtures used by the fleet tests
    PortalHarness,
    make_portal,
    moto_server,
    postgres_admin_url,
    postgres_database_url,
    s3_settings,
    sqlite_portal,
)
from tests.runtime.contract_models import build_test_package


@dataclass
class Fleet:
    harness: PortalHarness
    usecase_id: str
    admin: dict[str, str]
    operator: dict[str, str]

    @property
    def client(self) -> Any:
        return self.harness.client

    def enrollment_token(self, **body: Any) -> str:
        response = self.client.post(
            f"/api/v1/usecases/{self.usecase_id}/devices/enrollment-tokens", json=body, headers=self.operator
        )
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        return token

    def package(
        self,
        tmp: Path,
        model_type: str = "classification",
        version: str = "1.0.0",
        name: str = "cookies",
        **overrides: Any,
    ) -> str:
        """Build a signed package with the use case's key; store its archive; return its key."""
        portal = self.harness.portal
        with portal.session() as session:
            key = signing_keys.private_key(portal, signing_keys.active_key(session, portal, self.usecase_id))
            private_pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            usecase = usecases_service.get(session, self.usecase_id)
            store = storage.store_for(portal, "usecases", usecase, usecase.id)
        root = tmp / f"build-{name}-{version}-{model_type}"
        root.mkdir(parents=True, exist_ok=True)
        package = build_test_package(root, model_type, private_pem, name=name, version=version, **overrides)
        archive = archive_package(package, root / f"{name}-{version}.tar.gz")
        object_key = f"packages/{name}-{version}.tar.gz"
        store.put_file(object_key, archive)
        return object_key

    def deploy(self, packages: list[str], target: dict[str, str], **extra: Any) -> dict[str, Any]:
        body = {"name": extra.pop("name", "rollout"), "target": target, "packages": packages, **extra}
        response = self.client.post(
            f"/api/v1/usecases/{self.usecase_id}/deployments", json=body, headers=self.operator
        )
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/usecases/{self.usecase_id}/deployments/{deployment_id}", headers=self.operator
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


class SimDevice:
    """A device speaking the wire protocol through the test client (the real agent is tested
    against a served portal in test_agent.py)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.key = Ed25519PrivateKey.generate()
        self.device_id = ""

    @property
    def public_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def enroll(self, token: str, name: str | None = None) -> Any:
        proof = base64.b64encode(self.key.sign(b"enroll\n" + token.encode())).decode()
        body = EnrollRequest(
            token=token,
            public_key_pem=self.public_pem,
            name=name,
            facts=DeviceFacts(hostname="sim"),
            proof=proof,
        )
        response = self.client.post(
            "/api/v1/agent/enroll",
            content=body.model_dump_json(),
            headers={"content-type": "application/json"},
        )
        if response.status_code == 200:
            self.device_id = response.json()["device_id"]
        return response

    def call(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        mutate: Callable[[dict[str, str]], None] | None = None,
    ) -> Any:
        signed = sign_request(self.key, self.device_id, method, path, body)
        if mutate is not None:
            mutate(signed)
        if body:
            signed["content-type"] = "application/json"
        return self.client.request(method, path, content=body, headers=signed | (headers or {}))


def _fleet(harness: PortalHarness) -> Fleet:
    harness.make_user("root", admin=True)
    admin = harness.login("root")
    usecase_id = harness.create_usecase(admin, "line-1")
    harness.make_user("olga", role=Role.OPERATOR, usecase_id=usecase_id)
    return Fleet(harness, usecase_id, admin, harness.login("olga"))


@pytest.fixture
def fleet(sqlite_portal: PortalHarness) -> Fleet:  # noqa: F811 - the imported fixture
    return _fleet(sqlite_portal)


@pytest.fixture(params=["sqlite", "postgresql"])
def fleet_both(request: pytest.FixtureRequest, make_portal: Any) -> Fleet:  # noqa: F811 - fixture
    """The fleet API on SQLite and on the local PostgreSQL (skipped where it is not reachable)."""
    url = request.getfixturevalue("postgres_database_url") if request.param == "postgresql" else None
    harness: PortalHarness = make_portal(url)
    return _fleet(harness)
