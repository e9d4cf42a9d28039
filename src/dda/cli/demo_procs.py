"""The whole-system demo's processes: the portal and the station run as `dda` child processes,
each in its own session (so the terminal's Ctrl+C reaches only the orchestrator, which then stops
them in order), with their output in log files, and stopped as a whole process group (the
portal's job workers go with it).

This module imports neither the portal nor the station: it only starts commands.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from dda.core.errors import Unavailable

STOP_GRACE_S = 20.0
# What a child keeps from the caller's DDA_* environment: where pretrained weights are. Everything
# else (database URLs, stores, ports) is the demo's own, so a configured production setting
# never leaks into the demo.
KEPT_DDA_VARS = ("DDA_BACKBONE_WEIGHTS",)


def dda_command() -> list[str]:
    """How to run `dda` with this interpreter (the entry point beside it, else ``python -c``)."""
    script = Path(sys.executable).parent / "dda"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from dda.cli.main import main; main()"]


def write_secret_file(path: Path, text: str) -> None:
    """Create or replace ``path`` readable by its owner only (mode 0600 from the first byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def secret_from_file(path: Path, nbytes: int = 32) -> str:
    """The secret stored in ``path``; generated (and stored 0600) on first use."""
    if path.is_file():
        return path.read_text().strip()
    value = secrets.token_urlsafe(nbytes)
    write_secret_file(path, value + "\n")
    return value


def child_env(data_dir: Path, secret_key: str, weights_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDA_") or k in KEPT_DDA_VARS}
    env.update(
        {
            "DDA_DATA_DIR": str(data_dir),
            "DDA_SECRET_KEY": secret_key,
            "DDA_ENV": "development",
            "DDA_LOG_LEVEL": "WARNING",
            "DDA_LOG_JSON": "1",
            "DDA_WEIGHTS_DIR": str(weights_dir),
        }
    )
    env.update(extra)
    return env


def check_port_free(host: str, port: int, option: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as the servers bind: connections of a previous run in TIME_WAIT do not make it busy
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise Unavailable(
                f"port {port} on {host} is in use",
                hint=f"stop what runs there, or choose another port with {option}",
            ) from exc


def run_once(args: list[str], env: dict[str, str], log: Path) -> None:
    """One short `dda` command; its output goes to ``log``; a failure names the log to read."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        done = subprocess.run([*dda_command(), *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise Unavailable(f"`dda {args[0]} {args[1]}` failed", hint=f"read {log}")


@dataclass
class Child:
    """A long-running `dda` process (portal or station) and where it logs."""

    name: str
    url: str
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, args: list[str], env: dict[str, str]) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*dda_command(), *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_http(self, path: str, timeout_s: float = 120.0) -> None:
        """Until ``url + path`` answers; a child that exits first fails with its log named."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise Unavailable(f"the {self.name} stopped while starting", hint=f"read {self.log}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise Unavailable(f"the {self.name} did not answer in {timeout_s:.0f} s", hint=f"read {self.log}")

    def stop(self) -> None:
        """SIGINT (the servers shut down cleanly), then SIGKILL for whatever of its process group is
        left after the grace time (job worker processes included)."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGINT)
            try:
                process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(5)
        _signal_group(process.pid, signal.SIGKILL)  # stragglers of its group, if any
        self.process = None


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
