"""`dda demo` (the README's `make run`) as a user runs it, in a temp folder: the portal is healthy,
the station enrolled and online, the deployment completed, the station's camera inspects with
the deployed model version; a second run reuses the model (no new training job); Ctrl+C (SIGINT)
stops everything and leaves no process behind. A tiny model (12 photos, 1 epoch) keeps it short."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dda.client import PortalClient
from tests.procs import free_port

DDA = [sys.executable, "-c", "from dda.cli.main import main; main()"]
READY = "DDA station:"


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc: parent links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class DemoRun:
    def __init__(self, data_dir: Path, name: str, ports: tuple[int, int] | None = None) -> None:
        self.portal_port, self.station_port = ports or (free_port(), free_port())
        self.out = data_dir / f"{name}.out"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DDA_")}
        env["DDA_DATA_DIR"] = str(data_dir)
        args = ["demo", "--portal-port", str(self.portal_port), "--port", str(self.station_port),
                "--images", "12", "--epochs", "1"]  # fmt: skip
        with self.out.open("wb") as out:
            self.process = subprocess.Popen([*DDA, *args], env=env, stdout=out, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while READY not in self.text():
            assert self.process.poll() is None, self.text()[-4000:]
            assert time.monotonic() < deadline, self.text()[-4000:]
            time.sleep(1)

    def interrupt(self) -> None:
        """Ctrl+C: the demo exits 0 and every process it started is gone."""
        below = _descendants(self.process.pid)
        assert len(below) >= 2  # the portal and the station at least
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(90) == 0, self.text()[-3000:]
        deadline = time.monotonic() + 10
        while [p for p in below if _alive(p)] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in below if _alive(p)]


def _logins(data_dir: Path) -> dict[str, str]:
    path = data_dir / "demo-system" / "login.txt"
    assert path.stat().st_mode & 0o777 == 0o600
    return {line.split()[0]: line.split(":", 1)[1] for line in path.read_text().splitlines()}


def _check_system(run: DemoRun, logins: dict[str, str]) -> dict[str, Any]:
    portal_url = f"http://127.0.0.1:{run.portal_port}"
    assert httpx.get(portal_url + "/api/v1/health").json() == {"status": "ok"}
    assert f"login: admin / {logins['portal']}" in run.text()
    with PortalClient(portal_url) as client:
        client.auth.login("admin", logins["portal"])
        usecase = client.usecases.find("Demo cookies")
        devices = client.http.json("GET", f"/api/v1/usecases/{usecase.id}/devices")["items"]
        assert [(d["name"], d["status"]) for d in devices] == [("demo-station", "online")]
        base = f"/api/v1/usecases/{usecase.id}/deployments"
        newest = client.http.json("GET", base)["items"][0]
        deployment = client.http.json("GET", f"{base}/{newest['id']}")  # with its devices
        assert deployment["status"] == "completed"
        phases = [(d["device_name"], d["phase"]) for d in deployment["devices"]]
        assert phases == [("demo-station", "healthy")]
        item = deployment["items"][0]
        jobs = client.jobs.list(usecase.id, type="training")
    station = httpx.Client(base_url=f"http://127.0.0.1:{run.station_port}", timeout=60)
    token = station.post("/api/v1/auth/login", json={"username": "admin", "password": logins["station"]})
    station.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    workflow = next(w for w in station.get("/api/v1/workflows").json() if w["name"] == "demo-cookies")
    assert workflow["state"] == "running"
    result = station.post(f"/api/v1/workflows/{workflow['id']}/run").json()  # one capture, now
    assert (result["model_name"], result["model_version"]) == (item["model_name"], item["model_version"])
    assert result["prediction"] in ("normal", "anomaly")
    return {"training_jobs": [j.id for j in jobs]}


@pytest.mark.slow
@pytest.mark.timeout(2400)  # a few minutes on an idle 2-core machine; far more on a loaded one
def test_make_run_brings_up_the_whole_system_and_reuses_its_model(tmp_path: Path) -> None:
    first = DemoRun(tmp_path, "first")
    try:
        first.wait_ready(1800)
        logins = _logins(tmp_path)
        seen = _check_system(first, logins)
        assert len(seen["training_jobs"]) == 1
    finally:
        first.interrupt()
    second = DemoRun(tmp_path, "second", (first.portal_port, first.station_port))  # `make run` again
    try:
        second.wait_ready(600)
        assert "reusing model demo-cookies v1" in second.text()
        assert _check_system(second, logins)["training_jobs"] == seen["training_jobs"]  # no new training
    finally:
        second.interrupt()


def test_logins_are_generated_once_and_kept_owner_only(tmp_path: Path) -> None:
    from dda.cli.demo_system import SystemPaths, read_logins

    paths = SystemPaths(tmp_path)
    first = read_logins(paths)
    assert set(first) == {"portal", "station"} and first["portal"] != first["station"]
    for password in first.values():  # the portal's policy: 12+ characters of four kinds
        assert len(password) >= 12 and any(c.isupper() for c in password)
        assert any(c.islower() for c in password) and any(c.isdigit() for c in password)
        assert any(not c.isalnum() for c in password)
    assert paths.logins.stat().st_mode & 0o777 == 0o600
    assert read_logins(paths) == first


def test_a_busy_port_is_a_clear_error_naming_the_option() -> None:
    import socket

    from dda.cli.demo_procs import check_port_free
    from dda.core.errors import Unavailable

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(Unavailable) as caught:
            check_port_free("127.0.0.1", port, "--portal-port")
    assert f"port {port}" in caught.value.message and "--portal-port" in (caught.value.hint or "")
