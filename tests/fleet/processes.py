"""Real processes for the fleet tests: a portal (`dda portal serve`) and stations (`dda station
serve` / `dda station agent`) on loopback, each with its own data folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import create_engine, select, text

from dda.core.settings import Settings
from dda.core.signing import sign_directory
from dda.packaging.install import archive_package
from dda.packaging.manifest import MANIFEST_FILE, read_manifest
from dda.portal.context import build_portal
from dda.portal.services import signing_keys, storage
from dda.portal.services import usecases as usecases_service
from tests.procs import free_port, stop_process
from tests.runtime.contract_models import build_test_package

SECRET = "fleet-test-secret-" + "x" * 40
PASSWORD = "Correct-Horse-9-battery"
DDA = [str(Path(sys.executable).parent / "dda")]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDA_")}
    env.update(
        {"DDA_DATA_DIR": str(data_dir), "DDA_SECRET_KEY": SECRET, "DDA_ENV": "test", "DDA_LOG_JSON": "1"}
    )
    env.update(extra)
    return env


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: the process exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout_s} s")


def until(predicate: Any, timeout_s: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


class PortalProcess:
    def __init__(self, root: Path) -> None:
        self.data = root / "portal"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = _env(self.data, DDA_ADMIN_PASSWORD=PASSWORD)
        subprocess.run([*DDA, "portal", "create-admin", "root"], env=env, check=True, capture_output=True)
        self.log = (root / "portal.log").open("wb")
        self.process = subprocess.Popen(
            [*DDA, "portal", "serve", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        _wait_http(self.url + "/api/v1/health", self.process)
        token = httpx.post(
            self.url + "/api/v1/auth/login", json={"username": "root", "password": PASSWORD}
        ).json()
        self.headers = {"Authorization": f"Bearer {token['access_token']}"}
        answer = httpx.post(self.url + "/api/v1/usecases", json={"name": "line-1"}, headers=self.headers)
        assert answer.status_code == 201, answer.text
        self.usecase_id = answer.json()["id"]

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method,
            f"{self.url}/api/v1/usecases/{self.usecase_id}{path}",
            headers=self.headers,
            timeout=30,
            **kwargs,
        )
        assert response.status_code < 300, response.text
        return response.json()

    def _portal(self) -> Any:
        return build_portal(Settings(data_dir=self.data, secret_key=SECRET, env="test"), run_migrations=False)

    def signing_key_pem(self) -> bytes:
        """The use case's private signing key (read through the portal's own services)."""
        portal = self._portal()
        try:
            with portal.session() as session:
                row = signing_keys.active_key(session, portal, self.usecase_id)
                key = signing_keys.private_key(portal, row)
        finally:
            portal.close()
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def upload(self, archive: Path, object_key: str) -> str:
        portal = self._portal()
        try:
            with portal.session() as session:
                usecase = usecases_service.get(session, self.usecase_id)
                storage.store_for(portal, "usecases", usecase, usecase.id).put_file(object_key, archive)
        finally:
            portal.close()
        return object_key

    def package(
        self, root: Path, version: str, *, seed: int = 0, break_golden: bool = False, like: str | None = None
    ) -> str:
        """A tiny package signed with the use case's key, stored; returns its object key. ``like``
        re-versions the package built for that version (no second export) instead of building one."""
        pem = self.signing_key_pem()
        build = root / f"build-{version}"
        build.mkdir(parents=True, exist_ok=True)
        if like is not None:
            source = root / f"build-{like}" / "pkg-classification-x86_64-cpu"
            package = resigned_copy(source, build / "pkg-classification-x86_64-cpu", version, pem)
        else:
            package = build_test_package(
                build, "classification", pem, name="cookies", version=version, seed=seed
            )
        if break_golden:  # validly signed, but its recorded answer is not what the model says
            manifest = json.loads((package / MANIFEST_FILE).read_text())
            manifest["golden"]["anomaly_score"] = manifest["golden"]["anomaly_score"] + 0.5
            (package / MANIFEST_FILE).write_text(json.dumps(manifest))
            _resign(package, pem)
        archive = archive_package(package, build / f"cookies-{version}.tar.gz")
        return self.upload(archive, f"packages/cookies-{version}.tar.gz")

    def stop(self) -> None:
        stop_process(self.process)
        self.log.close()


def resigned_copy(source: Path, dest: Path, version: str, private_pem: bytes) -> Path:
    """A copy of a package under another version, properly signed again (as the portal would)."""
    import shutil

    package = shutil.copytree(source, dest)
    manifest = json.loads((package / MANIFEST_FILE).read_text())
    manifest["version"] = version
    (package / MANIFEST_FILE).write_text(json.dumps(manifest))
    _resign(package, private_pem)
    return package


def _resign(package: Path, private_pem: bytes) -> None:
    for name in ("SHA256SUMS.json", "SHA256SUMS.json.sig"):
        (package / name).unlink()
    sign_directory(package, private_pem, exclude=read_manifest(package).generated_at_install)


class StationProcess:
    def __init__(self, root: Path, portal: PortalProcess, name: str, group: str) -> None:
        self.data = root / name
        self.name = name
        token = portal.api("POST", "/devices/enrollment-tokens", json={"device_name": name, "group": group})
        self.env = _env(self.data, DDA_STATION__AGENT_INTERVAL_S="0.5")
        done = subprocess.run(
            [*DDA, "station", "enroll", portal.url, token["token"]],
            env=self.env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        self.device_id = json.loads((self.data / "station" / "fleet" / "device.json").read_text())[
            "device_id"
        ]
        key_mode = (self.data / "station" / "fleet" / "device-key.pem").stat().st_mode & 0o777
        assert key_mode == 0o600
        self.process: subprocess.Popen[bytes] | None = None
        self.log = (root / f"{name}.log").open("ab")

    def db(self) -> Any:
        return create_engine(f"sqlite:///{self.data / 'station' / 'station.db'}")

    def add_workflow(self, model: str, version: str) -> None:
        """A workflow pinned to the model (made in the station's own database, as its UI would)."""
        from dda.station.context import build_station

        station = build_station(Settings(data_dir=self.data, env="test"))
        try:
            from dda.station.app import seed_defaults
            from dda.station.db.models import ImageSource, Workflow

            seed_defaults(station)
            with station.session() as session:
                source = session.scalars(select(ImageSource)).first()
                assert source is not None
                session.add(
                    Workflow(name="inspect", source_id=source.id, model_name=model, model_version=version)
                )
        finally:
            station.engine.dispose()

    def pinned_version(self) -> str:
        engine = self.db()
        try:
            with engine.connect() as conn:
                return str(
                    conn.execute(text("SELECT model_version FROM workflows WHERE name='inspect'")).scalar()
                )
        finally:
            engine.dispose()

    def start(self, command: str = "serve") -> None:
        args = [*DDA, "station", command]
        if command == "serve":
            args += ["--port", str(free_port())]
        self.process = subprocess.Popen(args, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_process(self.process)
        self.log.close()


@pytest.fixture
def portal_process(tmp_path: Path) -> Iterator[PortalProcess]:
    portal = PortalProcess(tmp_path)
    yield portal
    portal.stop()
