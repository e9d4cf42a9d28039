"""Crash safety: SIGKILL `dda station serve` in the middle of a burst of captures. Every result the
station acknowledged must be in the database and on disk, and SQLite must pass integrity_check.
A restart then removes what the kill left half-written and serves the acknowledged results."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from dda.core.safe_image import encode_png
from dda.station.paths import StationPaths
from tests.station.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.station.modelkit import write_installed_package
from tests.station.server_util import free_port

pytestmark = pytest.mark.slow
WORKERS = 4
ACKS_BEFORE_KILL = 40


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DDA_DATA_DIR": str(data_dir), "DDA_ENV": "test", "DDA_LOG_LEVEL": "WARNING"}
    dda = str(Path(sys.executable).parent / "dda")
    command = [dda, "station", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with (data_dir / f"serve-{time.monotonic_ns()}.log").open("wb") as log:  # read when a start fails
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 240  # imports alone took over 90 s on a box at load 25
    while time.monotonic() < deadline:
        assert process.poll() is None, "the station exited during start-up"
        try:
            if httpx.get(f"{base}/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail("the station did not start")


def test_sigkill_during_a_burst_loses_no_acknowledged_result(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    paths = StationPaths(data_dir / "station")
    write_installed_package(paths.model_repo, "bright", "1")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _start(data_dir, port)
    try:
        _wait_up(base, process)
        httpx.post(f"{base}/api/v1/auth/setup", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
        token = httpx.post(
            f"{base}/api/v1/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
        )
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        source_id = httpx.get(f"{base}/api/v1/image-sources", headers=auth).json()[0]["id"]
        workflow = httpx.post(
            f"{base}/api/v1/workflows",
            headers=auth,
            json={"name": "burst", "source_id": source_id, "model_name": "bright", "model_version": "1"},
        ).json()

        acked: list[dict] = []
        lock = threading.Lock()
        stop = threading.Event()

        def burst(seed: int) -> None:
            rng = np.random.default_rng(seed)
            with httpx.Client(timeout=30) as http:
                while not stop.is_set():
                    image = encode_png(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
                    try:
                        response = http.post(
                            f"{base}/api/v1/workflows/{workflow['id']}/run",
                            headers=auth,
                            files={"file": ("x.png", image)},
                        )
                    except httpx.HTTPError:
                        return  # the station died mid-request: that one was never acknowledged
                    if response.status_code == 200:
                        with lock:
                            acked.append(response.json())

        threads = [threading.Thread(target=burst, args=(i,)) for i in range(WORKERS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while len(acked) < ACKS_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)  # requests are in flight right now
        process.wait(10)
        stop.set()
        for thread in threads:
            thread.join(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)

    assert len(acked) >= ACKS_BEFORE_KILL
    database = sqlite3.connect(paths.root / "station.db")
    try:
        assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {
            row[0]: row[1:]
            for row in database.execute("SELECT id, input_path, manifest_path FROM inference_results")
        }
    finally:
        database.close()
    for result in acked:
        assert result["id"] in stored, f"acknowledged result {result['id']} is not in the database"
        for relative in stored[result["id"]]:
            assert (paths.results / relative).is_file(), f"{relative} of an acknowledged result is missing"

    process = _start(data_dir, port)  # a restart sweeps folders whose commit never happened
    try:
        _wait_up(base, process)
        token = httpx.post(
            f"{base}/api/v1/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
        )
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        listed = httpx.get(f"{base}/api/v1/results", params={"limit": 500}, headers=auth).json()
        # The journal may bring back a result that was durable when the kill cut off its answer
        # (never acknowledged, but not lost either); every stored one is still there.
        total = listed["total"]
        assert total >= len(stored) and set(stored) <= {item["id"] for item in listed["items"]}
        folders = [f for day in paths.results.iterdir() for f in day.iterdir()]
        assert len(folders) == total  # one folder per stored capture, no leftovers
        overlay = httpx.get(  # derived data, drawn on first view from the durable input and mask
            f"{base}/api/v1/results/{acked[-1]['id']}/image", params={"kind": "overlay"}, headers=auth
        )
        assert overlay.status_code == 200 and overlay.content[:2] == b"\xff\xd8"
    finally:
        process.terminate()
        process.wait(30)
