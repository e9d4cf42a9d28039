"""Memory stays bounded whatever the input: the station (``dda station serve``, its own process)
answers a 10000x10000 PNG bomb, oversized and endless bodies and a burst of concurrent hostile
uploads with 4xx, and its resident memory stays <= 500 MB throughout (sampled from outside)."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest

from dda.core.safe_image import encode_jpeg
from tests.procs import free_port, stop_process
from tests.station.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.station.modelkit import write_installed_package

RSS_LIMIT = 500 * 2**20
pytestmark = pytest.mark.slow


def png_bomb(width: int = 10_000, height: int = 10_000) -> bytes:
    """A valid RGB PNG of zeros: a few hundred KB that would decode to width*height*3 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = bytes(1 + width * 3)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


class PeakRss:
    """Samples a process's RSS every few milliseconds in a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def server(isolated_settings: Path, tmp_path: Path) -> Iterator[tuple[str, int]]:
    write_installed_package(isolated_settings / "station" / "models", "bright", "1")
    port = free_port()
    env = {
        **os.environ,
        "DDA_DATA_DIR": str(isolated_settings),
        "DDA_ENV": "test",
        "DDA_STATION__PORT": str(port),
        "DDA_STATION__HOST": "127.0.0.1",
    }
    log = (tmp_path / "station.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", "from dda.cli.main import main; main()", "station", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (tmp_path / "station.log").read_text()[-3000:]
            try:
                if httpx.get(f"{base}/v2/health/live", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the station did not start"
            time.sleep(0.3)
        yield base, process.pid
    finally:
        stop_process(process, timeout_s=20)
        log.close()


def _login(base: str) -> dict[str, str]:
    creds = {"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    httpx.post(f"{base}/api/v1/auth/setup", json=creds).raise_for_status()
    token = httpx.post(f"{base}/api/v1/auth/login", json=creds).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _declared_status(url: str, auth: dict[str, str], length: int) -> int:
    """Announce a ``length``-byte body, send 1 MB of it, and read the status line the server gives."""
    parts = httpx.URL(url)
    with socket.create_connection((parts.host, parts.port), timeout=30) as sock:
        head = (
            f"POST {parts.raw_path.decode()} HTTP/1.1\r\nHost: {parts.host}\r\n"
            f"Authorization: {auth['Authorization']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n"
        )
        sock.sendall(head.encode())
        with contextlib.suppress(OSError):  # the server may answer and close before reading the body
            sock.sendall(b"\x00" * (1 << 20))
        status_line = sock.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def _endless(total: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    block = b"\x00" * chunk
    for _ in range(total // chunk):
        yield block


def test_hostile_uploads_keep_the_server_under_500_mb(server: tuple[str, int]) -> None:
    base, pid = server
    auth = _login(base)
    source = httpx.get(f"{base}/api/v1/image-sources", headers=auth).json()[0]["id"]
    workflow = httpx.post(
        f"{base}/api/v1/workflows",
        headers=auth,
        json={"name": "mem", "source_id": source, "model_name": "bright", "model_version": "1"},
    ).json()["id"]
    run_url = f"{base}/api/v1/workflows/{workflow}/run"
    infer_url = f"{base}/v2/models/bright/infer"
    bomb = png_bomb()
    oversized = b"\x89PNG\r\n\x1a\n" + b"\x00" * (40 << 20)
    assert len(bomb) < 1_000_000
    big_ok = encode_jpeg(np.random.default_rng(0).integers(0, 256, (1900, 2400, 3), dtype=np.uint8))
    httpx.post(f"{base}/api/v1/models/bright/1/load", headers=auth).raise_for_status()
    baseline = psutil.Process(pid).memory_info().rss

    def upload(data: bytes) -> int:
        return httpx.post(run_url, headers=auth, files={"file": ("x.png", data)}, timeout=120).status_code

    peaks: dict[str, int] = {}
    with PeakRss(pid) as rss:
        started = time.monotonic()
        assert upload(bomb) == 422
        bomb_seconds = time.monotonic() - started
        over_pool = upload(png_bomb(2500, 2500))  # decodable, but more than the pipeline pool allows
        assert over_pool == 422
        peaks["one bomb"] = rss.peak
        declared = _declared_status(infer_url, auth, 243 * 2**20)
        assert declared == 413
        streamed = httpx.post(infer_url, headers=auth, content=_endless(200 << 20), timeout=120)
        assert streamed.status_code == 413
        peaks["big bodies"] = rss.peak
        with ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(upload, [bomb] * 16))
        peaks["16 bombs"] = rss.peak
        with ThreadPoolExecutor(12) as pool:
            codes += list(pool.map(upload, [big_ok] * 8))
        peaks["8 large photos"] = rss.peak
        with ThreadPoolExecutor(12) as pool:
            codes += list(pool.map(upload, [oversized] * 4))
        peaks["4 oversized"] = rss.peak
        with ThreadPoolExecutor(12) as pool:
            mixed = list(pool.map(upload, [bomb, big_ok, bomb, big_ok, oversized, big_ok] * 3))
        peaks["mixed burst"] = rss.peak
    assert {
        c
        for c, d in zip(mixed, [bomb, big_ok, bomb, big_ok, oversized, big_ok] * 3, strict=True)
        if d is bomb
    } == {422}
    assert set(codes[:16]) == {422}, codes
    assert all(c in (200, 503) for c in codes[16:24]), codes  # decoded, or told to retry (bounded)
    assert set(codes[24:]) == {413}, codes
    mb = 2**20
    print(
        f"\nRSS MB: baseline {baseline / mb:.0f}, peaks { ({k: round(v / mb) for k, v in peaks.items()}) }; "
        f"bomb refused in {bomb_seconds:.2f} s"
    )
    assert rss.peak <= RSS_LIMIT, f"peak RSS {rss.peak / 2**20:.0f} MB"
