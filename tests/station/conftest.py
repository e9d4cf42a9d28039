"""Station fixtures: an app on a fresh data dir (real SQLite, real ONNX Runtime), an admin login,
and a tiny real model package installed in the station's model repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dda.core.settings import Settings, get_settings
from dda.station.app import create_app
from dda.station.paths import StationPaths
from tests.station.modelkit import write_installed_package

ADMIN_USER = "admin"
ADMIN_PASSWORD = "correct-horse-battery"


@pytest.fixture
def station_settings(isolated_settings: Path) -> Settings:
    return get_settings()


@pytest.fixture
def station_paths(station_settings: Settings) -> StationPaths:
    paths = StationPaths.from_settings(station_settings)
    paths.ensure()
    return paths


@pytest.fixture
def installed_model(station_paths: StationPaths) -> tuple[str, str]:
    write_installed_package(station_paths.model_repo, "bright", "1")
    return "bright", "1"


@pytest.fixture
def app(station_settings: Settings) -> FastAPI:
    return create_app(station_settings, web_dist=None, configure_logs=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # A loopback peer, as a browser on the station itself (first setup needs loopback or the code).
    with TestClient(app, client=("127.0.0.1", 50000)) as test_client:
        yield test_client


@pytest.fixture
def auth(client: TestClient) -> dict[str, str]:
    """Headers of a logged-in admin (created through the first-run setup)."""
    response = client.post("/api/v1/auth/setup", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    assert response.status_code == 201, response.text
    response = client.post("/api/v1/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
