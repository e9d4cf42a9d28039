"""Start real `dda portal serve` processes for tests (the CLI, the scale-out test)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.procs import free_port, stop_process

REPO_SRC = Path(__file__).resolve().parents[2] / "src"


def portal_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDA_")}
    env.update(
        {
            "DDA_DATA_DIR": str(data_dir),
            "DDA_ENV": "test",
            "DDA_LOG_JSON": "true",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_SRC), os.environ.get("PYTHONPATH", "")])),
        }
    )
    env.update(extra)
    return env


def dda_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from dda.cli.main import main; main()", *args]


def create_admin(env: dict[str, str], password: str, username: str = "root") -> None:
    """`dda portal create-admin` against the portal data of ``env`` (as an operator would)."""
    made = subprocess.run(
        dda_command("portal", "create-admin", username),
        env={**env, "DDA_ADMIN_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr


@contextmanager
def running_portal(env: dict[str, str], log: Path, timeout_s: float = 60.0) -> Iterator[str]:
    """A `dda portal serve` on a free loopback port; yields its base URL once /api/v1/health answers."""
    port = free_port()
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            dda_command("portal", "serve", "--host", "127.0.0.1", "--port", str(port)),
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"dda portal serve exited {process.returncode}:\n{log.read_text()[-3000:]}"
                )
            try:
                if httpx.get(url + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"dda portal serve did not answer:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(process)
