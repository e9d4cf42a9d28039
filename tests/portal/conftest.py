"""Portal test harness: the real app (TestClient runs its lifespan) on SQLite and on the local
PostgreSQL, with helpers to make users and roles directly through the services.

Use the ``portal`` fixture for tests that should run on both databases (it is parametrised), or
``sqlite_portal`` for tests where the database does not matter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dda.core.settings import Settings
from dda.portal.app import create_app
from dda.portal.context import Portal
from dda.portal.db import RoleAssignment
from dda.portal.permissions import Role
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services import auth as auth_service
from tests.core.conftest import (  # noqa: F401 - fixtures re-exported for portal tests
    moto_server,
    postgres_admin_url,
    postgres_database_url,
    s3_bucket_name,
    s3_settings,
)

PASSWORD = "Correct-Horse-9-battery"


@dataclass
class PortalHarness:
    client: TestClient
    portal: Portal
    tokens: dict[str, str] = field(default_factory=dict)

    def make_user(
        self, username: str, *, admin: bool = False, role: Role | None = None, usecase_id: str | None = None
    ) -> str:
        with self.portal.session() as session:
            user = auth_service.create_user(session, username, PASSWORD, is_portal_admin=admin)
            if role is not None and usecase_id is not None:
                session.add(RoleAssignment(user_id=user.id, usecase_id=usecase_id, role=role.value))
            return user.id

    def grant(self, username: str, usecase_id: str, role: Role) -> None:
        from dda.portal.repositories import users as users_repo

        with self.portal.session() as session:
            user = users_repo.by_username(session, username)
            assert user is not None
            session.add(RoleAssignment(user_id=user.id, usecase_id=usecase_id, role=role.value))

    def login(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        response = self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        self.tokens[username] = token
        return {"Authorization": f"Bearer {token}"}

    def create_usecase(self, headers: dict[str, str], name: str, **extra: object) -> str:
        response = self.client.post("/api/v1/usecases", json={"name": name, **extra}, headers=headers)
        assert response.status_code == 201, response.text
        usecase_id: str = response.json()["id"]
        return usecase_id

    def usecase_name(self, usecase_id: str) -> str:
        with self.portal.session() as session:
            row = usecases_repo.by_id(session, usecase_id)
            assert row is not None
            return row.name


def portal_settings(data_dir: Path, database_url: str | None, **portal: object) -> Settings:
    return Settings(
        data_dir=data_dir,
        env="test",
        portal={"database_url": database_url, **portal},  # type: ignore[arg-type]
    )


@pytest.fixture
def make_portal(isolated_settings: Path) -> Iterator[object]:
    """Factory: ``make_portal(database_url=None, **portal_settings)`` -> PortalHarness (closed after)."""
    clients: list[TestClient] = []

    def factory(database_url: str | None = None, **portal: object) -> PortalHarness:
        settings = portal_settings(isolated_settings, database_url, **portal)
        client = TestClient(create_app(settings, configure_logs=False))
        client.__enter__()
        clients.append(client)
        return PortalHarness(client=client, portal=client.app.state.portal)  # type: ignore[attr-defined]

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def portal(request: pytest.FixtureRequest, make_portal) -> PortalHarness:  # type: ignore[no-untyped-def]
    """The portal on SQLite and on the local PostgreSQL (skipped where it is not reachable)."""
    url = request.getfixturevalue("postgres_database_url") if request.param == "postgresql" else None
    harness: PortalHarness = make_portal(url)
    return harness


@pytest.fixture
def sqlite_portal(make_portal) -> PortalHarness:  # type: ignore[no-untyped-def]
    harness: PortalHarness = make_portal(None)
    return harness
