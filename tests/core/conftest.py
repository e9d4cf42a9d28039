"""Real servers for the core tests: an S3 API (moto_server) and the local PostgreSQL.

Tests in other folders can reuse these fixtures by importing them into their own conftest.py:

    from tests.core.conftest import moto_server, s3_settings, postgres_admin_url, postgres_database_url
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from dda.core.settings import S3Settings
from tests.procs import free_port, stop_process

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SERVER_START_TIMEOUT_S = 60.0


def _moto_server_command() -> list[str]:
    beside_python = Path(sys.executable).parent / "moto_server"
    found = str(beside_python) if beside_python.exists() else shutil.which("moto_server")
    if not found:
        pytest.fail("moto_server not found: install the dev extra (pip install 'dda[dev]', moto[server])")
    return [found]


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"moto_server exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means the server is up
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"moto_server did not answer at {url} within {SERVER_START_TIMEOUT_S:.0f}s")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start a real S3 API server (moto_server) for this test session; yield its endpoint URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [*_moto_server_command(), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(endpoint + "/", process, log)
        yield endpoint
    finally:
        stop_process(process, timeout_s=10)


@pytest.fixture(scope="session")
def s3_settings(moto_server: str) -> S3Settings:
    """S3 settings pointing at the session's moto_server (moto accepts any key pair)."""
    return S3Settings(
        endpoint_url=moto_server,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key=SecretStr("testing"),
        addressing_style="path",
    )


@pytest.fixture
def s3_bucket_name() -> str:
    """A bucket name no other test uses (the bucket itself is not created)."""
    return f"dda-test-{uuid.uuid4().hex[:16]}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The local PostgreSQL server's maintenance URL; skips the test when the server is not reachable."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'dda[dev]')")
    engine = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
    except sqlalchemy.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 ({str(exc).splitlines()[0]})")
    finally:
        engine.dispose()
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_database_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database for one test, dropped afterwards."""
    import sqlalchemy

    name = f"dda_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        yield postgres_admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with contextlib.suppress(sqlalchemy.exc.SQLAlchemyError), admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
