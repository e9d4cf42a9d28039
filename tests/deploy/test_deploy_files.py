"""The shipped production files, run for real as far as this machine allows: the systemd units
parse (and pass `systemd-analyze verify`), exactly their ExecStart command lines with their env
files (PostgreSQL, Redis and a moto_server S3 put in for the CHANGE-ME values) run as processes,
the portal answers, a Celery worker completes a job and the station answers; the compose file is
validated (`docker compose config` when the plugin is installed, else parsed and every `dda`
command checked). Not run here: systemd as PID 1, containers (no registry to pull from)."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.core.conftest import moto_server, postgres_admin_url, postgres_database_url  # noqa: F401
from tests.procs import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = ("dda-portal.service", "dda-worker.service", "dda-station.service")
INSTALLED_DDA = "/opt/dda/venv/bin/dda"
DDA = [sys.executable, "-c", "from dda.cli.main import main; main()"]
PASSWORD = "Deploy-test-9-horse"
HTTP = httpx.Client(timeout=120)  # argon2 logins and cold imports are slow on a loaded machine


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(DEPLOY / "systemd" / name)
    return parser


def exec_start(name: str) -> list[str]:
    """The unit's ExecStart, with the installed `dda` swapped for this checkout's (args unchanged)."""
    args = shlex.split(unit(name)["Service"]["ExecStart"])
    assert args[0] == INSTALLED_DDA, args
    return [*DDA, *args[1:]]


def env_file(name: str, overrides: dict[str, str]) -> dict[str, str]:
    """The env file the unit names (shipped as deploy/env/<file>) with local values for CHANGE-ME
    and the machine-specific keys; every key in ``overrides`` must exist in the shipped file."""
    path = Path(unit(name)["Service"]["EnvironmentFile"])
    assert path.parent == Path("/etc/dda"), path
    shipped: dict[str, str] = {}
    for line in (DEPLOY / "env" / path.name).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            value = value.strip()
            if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":  # systemd drops outer quotes
                value = value[1:-1]
            shipped[key.strip()] = value
    assert set(overrides) <= set(shipped), set(overrides) - set(shipped)
    merged = {**shipped, **overrides}
    assert not [k for k, v in merged.items() if "CHANGE-ME" in v]
    base = {k: v for k, v in os.environ.items() if not k.startswith("DDA_")}
    return {**base, "PYTHONPATH": str(ROOT / "src"), **merged}


def test_units_parse_and_systemd_accepts_them(tmp_path: Path) -> None:
    for name in UNITS:
        parsed = unit(name)
        assert {"Unit", "Service", "Install"} <= set(parsed.sections())
        service = parsed["Service"]
        assert service["User"] == "dda" and service["Restart"] == "always"
        assert service["EnvironmentFile"].startswith("/etc/dda/")
        assert parsed["Install"]["WantedBy"] == "multi-user.target"
        assert exec_start(name)[3:5] in (["portal", "serve"], ["portal", "worker"], ["station", "serve"])
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: the units were only parsed")
    dda = shutil.which("dda") or str(Path(sys.executable).parent / "dda")
    for name in UNITS:  # verify needs the executable to exist: point it at this installation
        text = (DEPLOY / "systemd" / name).read_text().replace(INSTALLED_DDA, dda)
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / n) for n in UNITS)],
        capture_output=True,
        text=True,
    )
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "dda-" in line]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr


def _redis_or_skip() -> str:
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at 127.0.0.1:6379 ({exc})")
    return "redis://127.0.0.1:6379"


@pytest.fixture
def production_env(
    tmp_path: Path,
    moto_server: str,  # noqa: F811
    postgres_database_url: str,  # noqa: F811
) -> dict[str, str]:
    import boto3

    redis_url = _redis_or_skip()
    bucket = f"dda-deploy-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    return {
        "DDA_DATA_DIR": str(tmp_path / "portal"),
        "DDA_SECRET_KEY": "deploy-test-" + "s" * 48,
        "DDA_PORTAL__PUBLIC_URL": "https://portal.example.com",
        "DDA_PORTAL__DATABASE_URL": postgres_database_url,
        "DDA_PORTAL__OBJECT_STORE_URL": f"s3://{bucket}/objects",
        "DDA_S3__ENDPOINT_URL": moto_server,
        "DDA_S3__ACCESS_KEY_ID": "testing",
        "DDA_S3__SECRET_ACCESS_KEY": "testing",
        # several test runs share one Redis: their own databases' numbers are not enough
        "DDA_PORTAL__REDIS_URL": f"{redis_url}/0",
        "DDA_PORTAL__BROKER_URL": f"{redis_url}/1",
    }


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer:\n{log.read_text()[-3000:]}")


def _publishing_job(url: str, headers: dict[str, str], env: dict[str, str]) -> dict[str, Any]:
    """A use case and a publishing job for a package placed in its store (the job's input as the
    packaging job would leave it); the worker's share is to run it."""
    usecase = HTTP.post(f"{url}/api/v1/usecases", json={"name": "deploy-check"}, headers=headers).json()
    key = "packages/model-deploy-x86_64-cpu/1.0.0/model-deploy-x86_64-cpu-1.0.0.tar.gz"
    _put_object(env, usecase["id"], key)
    package = {
        "name": "model-deploy-x86_64-cpu",
        "version": "1.0.0",
        "target": "x86_64-cpu",
        "precision": "fp32",
        "key": key,
        "sha256": "0" * 64,
        "signing_key": "test",
    }
    body = {
        "type": "publishing",
        "parameters": {
            "model": {"artifact_key": "models/deploy/model.tar.gz", "model_name": "deploy"},
            "packages": [package],
        },
    }
    response = HTTP.post(f"{url}/api/v1/usecases/{usecase['id']}/jobs", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return {"usecase_id": usecase["id"], **response.json()}


def _put_object(env: dict[str, str], usecase_id: str, key: str) -> None:
    from dda.core.settings import Settings
    from dda.portal.context import build_portal
    from dda.portal.services import storage
    from dda.portal.services import usecases as usecases_service

    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith("DDA_")})
    try:
        portal = build_portal(Settings(), run_migrations=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        with portal.session() as session:
            usecase = usecases_service.get(session, usecase_id)
            storage.store_for(portal, "usecases", usecase, usecase.id).put_bytes(key, b"package bytes")
    finally:
        portal.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_unit_commands_run_the_portal_a_celery_worker_and_a_station(
    tmp_path: Path, production_env: dict[str, str]
) -> None:
    env = env_file("dda-portal.service", production_env)
    env["DDA_PORTAL__QUEUE_PREFIX"] = f"d{uuid.uuid4().hex[:8]}-"  # this run's own Celery queues
    subprocess.run([*DDA, "portal", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*DDA, "portal", "create-admin", "admin"],
        env={**env, "DDA_ADMIN_PASSWORD": PASSWORD},
        check=True,
        capture_output=True,
    )
    portal_args = exec_start("dda-portal.service")
    port = free_port()
    portal_args[portal_args.index("--port") + 1] = str(port)  # 8000 may be taken on a shared machine
    station_env = env_file(
        "dda-station.service",
        {"DDA_DATA_DIR": str(tmp_path / "station"), "DDA_SECRET_KEY": "station-" + "k" * 48},
    )
    station_args = exec_start("dda-station.service")
    station_port = free_port()
    station_args[station_args.index("--port") + 1] = str(station_port)
    processes = [
        _start(portal_args, env, tmp_path / "portal.log"),
        _start(
            exec_start("dda-worker.service"),
            env_file("dda-worker.service", production_env)
            | {"DDA_PORTAL__QUEUE_PREFIX": env["DDA_PORTAL__QUEUE_PREFIX"]},
            tmp_path / "worker.log",
        ),
        _start(station_args, station_env, tmp_path / "station.log"),
    ]
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/api/v1/health", processes[0], tmp_path / "portal.log")
        token = HTTP.post(
            url + "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        job = _publishing_job(url, headers, env)
        deadline = time.monotonic() + 240
        while (
            state := HTTP.get(
                f"{url}/api/v1/usecases/{job['usecase_id']}/jobs/{job['id']}", headers=headers
            ).json()
        )["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.5)
        assert state["status"] == "succeeded", (state["error"], (tmp_path / "worker.log").read_text()[-3000:])
        assert state["worker"].startswith("celery:")
        components = HTTP.get(
            f"{url}/api/v1/usecases/{job['usecase_id']}/components", headers=headers
        ).json()
        assert [c["name"] for c in components] == ["model-deploy-x86_64-cpu"]
        _wait_http(f"http://127.0.0.1:{station_port}/api/v1/health", processes[2], tmp_path / "station.log")
    finally:
        for process in processes:
            stop_process(process, timeout_s=30)


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def test_compose_file_is_valid_and_runs_real_dda_commands(tmp_path: Path) -> None:
    compose = _compose()
    services = compose["services"]
    assert {"postgres", "redis", "minio", "portal", "worker", "migrate", "caddy"} <= set(services)
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)
    dda_services = {n: s for n, s in services.items() if s.get("command", [""])[0] == "dda"}
    assert set(dda_services) == {"migrate", "portal", "worker"}
    for name, service in dda_services.items():
        assert service["environment"]["DDA_ENV"] == "production"
        assert service["environment"]["DDA_PORTAL__EXECUTOR"] == "celery"
        # the command exists and takes these options: `--help` appended parses every option given
        done = subprocess.run(
            [*DDA, *service["command"][1:], "--help"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        assert done.returncode == 0, (name, done.stdout + done.stderr)
    plugin = shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True)
    if not plugin or plugin.returncode != 0:
        pytest.skip("no `docker compose` here: the compose file was parsed and its dda commands checked only")
    (tmp_path / ".env").write_text(
        (DEPLOY / "env" / "compose.env.example").read_text().replace("CHANGE-ME", "x" * 40)
    )
    done = subprocess.run(
        [
            "docker",
            "compose",
            "--env-file",
            str(tmp_path / ".env"),
            "-f",
            str(DEPLOY / "compose.yaml"),
            "config",
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
