"""Heartbeat load on one portal process (`dda portal serve`): N simulated devices at a 30-s
interval (the default agent cadence), each heartbeat a real Ed25519-signed request over loopback,
for a bounded time. Prints the sustained rate (answered heartbeats per second against the offered
rate), p50 / p99 latency and the error rate, side by side with a baseline: the same signed
requests to a no-op device endpoint (/api/v1/agent/ping: signature, clock and replay check only),
so what the heartbeat's own work costs is visible apart from what any authenticated request
costs on this machine. On SQLite and (when the local server answers) PostgreSQL. The load
average is printed with every line: on a shared machine the figures move with it.

The requests are signed before the clock starts (signing is the station's cost, not the
portal's), so the load generator competes as little as it can with the portal for the CPUs.

    python bench/bench_fleet.py --devices 10000 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dda.core.settings import Settings
from dda.fleet_protocol import Heartbeat, sign_request
from dda.portal.context import build_portal
from dda.portal.db import Device, UseCase

SECRET = "bench-fleet-secret-" + "x" * 40
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HEARTBEAT = "/api/v1/agent/heartbeat"
PING = "/api/v1/agent/ping"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_devices(settings: Settings, count: int) -> list[tuple[str, Ed25519PrivateKey]]:
    portal = build_portal(settings)
    devices: list[tuple[str, Ed25519PrivateKey]] = []
    try:
        with portal.session() as session:
            usecase = UseCase(name=f"bench-{uuid.uuid4().hex[:6]}", onboarding_status="ready")
            session.add(usecase)
            session.flush()
            rows = []
            for n in range(count):
                key = Ed25519PrivateKey.generate()
                pem = (
                    key.public_key()
                    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                    .decode()
                )
                device_id = str(uuid.uuid4())
                rows.append(
                    Device(id=device_id, usecase_id=usecase.id, name=f"dev-{n:05d}", public_key_pem=pem)
                )
                devices.append((device_id, key))
            session.add_all(rows)
    finally:
        portal.close()
    return devices


def presign(
    devices: list[tuple[str, Ed25519PrivateKey]], count: int, path: str, body: bytes
) -> list[dict[str, str]]:
    order = devices[:]
    random.Random(0).shuffle(order)
    signed = []
    for n in range(count):
        device_id, key = order[n % len(order)]
        headers = sign_request(key, device_id, "POST", path, body)
        headers["content-type"] = "application/json"
        signed.append(headers)
    return signed


async def load(
    url: str, path: str, body: bytes, signed: list[dict[str, str]], rate: float, seconds: float
) -> dict[str, Any]:
    """Open loop: requests go out at ``rate`` whatever the answers (as devices' timers do)."""
    latencies: list[float] = []
    first_error: list[str] = []
    errors = 0
    sem = asyncio.Semaphore(256)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def one(headers: dict[str, str]) -> None:
            nonlocal errors
            async with sem:
                started = time.perf_counter()
                try:
                    response = await client.post(path, content=body, headers=headers)
                    ok = response.status_code in (200, 204)
                    if not ok and not first_error:
                        first_error.append(f"HTTP {response.status_code} {response.text[:200]}")
                except httpx.HTTPError as exc:
                    ok = False
                    if not first_error:
                        first_error.append(type(exc).__name__)
                latencies.append(time.perf_counter() - started)
                errors += 0 if ok else 1

        tasks = []
        begin = time.perf_counter()
        sent = 0
        while (elapsed := time.perf_counter() - begin) < seconds and sent < len(signed):
            due = min(int(elapsed * rate) + 1, len(signed))
            while sent < due:
                tasks.append(asyncio.create_task(one(signed[sent])))
                sent += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - begin
    latencies.sort()
    return {
        "offered_rps": rate,
        "achieved_rps": (len(latencies) - errors) / wall,
        "sent": sent,
        "errors": errors,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "first_error": first_error[0] if first_error else "",
    }


def start_portal(data_dir: Path, database_url: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "DDA_DATA_DIR": str(data_dir), "DDA_SECRET_KEY": SECRET, "DDA_LOG_LEVEL": "WARNING"}
    if database_url:
        env["DDA_PORTAL__DATABASE_URL"] = database_url
    dda = str(Path(sys.executable).parent / "dda")
    # BENCH_FLEET_LOG=file keeps the portal's output (errors under load) for a look afterwards.
    log_file = os.environ.get("BENCH_FLEET_LOG")
    log = open(log_file, "ab") if log_file else None  # noqa: SIM115 - closed with the process
    server = subprocess.Popen(
        [dda, "portal", "serve", "--port", str(port)],
        env=env,
        stdout=log or subprocess.DEVNULL,
        stderr=log or subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # a loaded machine starts it slowly
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/api/v1/health", timeout=5)
            return server, url
        except httpx.HTTPError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    stop_portal(server)
    raise SystemExit(f"the portal did not start (exit code {server.poll()})")


def stop_portal(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(10)


def line(label: str, what: str, devices: int, interval: float, result: dict[str, Any]) -> str:
    load1, load5, _ = os.getloadavg()
    return (
        f"{label:10s} {what:9s} devices={devices} interval={interval:.0f}s "
        f"offered={result['offered_rps']:.0f}/s sustained={result['achieved_rps']:.0f}/s "
        f"sent={result['sent']} errors={result['errors']} "
        f"({100 * result['errors'] / max(result['sent'], 1):.2f} %) p50={result['p50_ms']:.1f} ms "
        f"p99={result['p99_ms']:.1f} ms | load average {load1:.1f} / {load5:.1f} on {os.cpu_count()} CPUs"
    )


def run(label: str, database_url: str | None, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="dda-bench-fleet-") as tmp:
        data_dir = Path(tmp)
        settings = Settings(data_dir=data_dir, secret_key=SECRET, portal={"database_url": database_url})
        devices = make_devices(settings, args.devices)
        rate = args.devices / args.interval
        count = int(rate * args.seconds) + 1
        beat = (
            Heartbeat(cpu_pct=12.0, memory_pct=40.0, disk_pct=30.0, throughput_per_min=60.0)
            .model_dump_json()
            .encode()
        )
        server, url = start_portal(data_dir, database_url)
        try:
            for what, path, body in (("ping", PING, b"{}"), ("heartbeat", HEARTBEAT, beat)):
                if args.only and args.only != what:
                    continue
                warm = presign(devices[-50:], 50, path, body)  # first requests of a fresh process are slow
                asyncio.run(load(url, path, body, warm, 25.0, 2.0))
                signed = presign(devices, count, path, body)
                result = asyncio.run(load(url, path, body, signed, rate, args.seconds))
                print(line(label, what, args.devices, args.interval, result), flush=True)
                if result["first_error"]:
                    print(f"{'':10s} first error: {result['first_error']}")
        finally:
            stop_portal(server)
    print(f"{label:10s} target: 10,000 devices at 30 s = 333/s sustained with p99 < 100 ms and 0 errors")


def postgres_url() -> str | None:
    import sqlalchemy

    name = f"dda_bench_{uuid.uuid4().hex[:8]}"
    try:
        engine = sqlalchemy.create_engine(
            PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
    except Exception as exc:  # no server here: say so and skip
        print(f"postgresql skipped: {type(exc).__name__}")
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--only", choices=["ping", "heartbeat"], help="one endpoint, not both")
    args = parser.parse_args()
    if not args.no_sqlite:
        run("sqlite", None, args)
    if not args.no_postgres and (url := postgres_url()):
        try:
            run("postgresql", url, args)
        finally:
            drop_database(url)


def drop_database(url: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    engine.dispose()


if __name__ == "__main__":
    main()
