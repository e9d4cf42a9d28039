"""Heartbeat load on one portal process: N simulated devices at a 30-s interval (the default
agent cadence), each heartbeat a real Ed25519-signed request over loopback, for a bounded time.
Prints p50 / p99 latency, error rate and the achieved rate against the offered one, on SQLite and
(with --postgres, or by default when the local server answers) PostgreSQL.

    python bench/bench_fleet.py --devices 10000 --seconds 60
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

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dda.core.settings import Settings
from dda.fleet_protocol import Heartbeat, sign_request
from dda.portal.context import build_portal
from dda.portal.db import Device, UseCase

SECRET = "bench-fleet-secret-" + "x" * 40
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


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


async def load(
    url: str, devices: list[tuple[str, Ed25519PrivateKey]], seconds: float, interval_s: float
) -> dict:
    rate = len(devices) / interval_s
    body = (
        Heartbeat(cpu_pct=12.0, memory_pct=40.0, disk_pct=30.0, throughput_per_min=60.0)
        .model_dump_json()
        .encode()
    )
    latencies: list[float] = []
    errors = 0
    sem = asyncio.Semaphore(256)
    order = devices[:]
    random.Random(0).shuffle(order)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def one(device_id: str, key: Ed25519PrivateKey) -> None:
            nonlocal errors
            headers = sign_request(key, device_id, "POST", "/api/v1/agent/heartbeat", body)
            headers["content-type"] = "application/json"
            async with sem:
                started = time.perf_counter()
                try:
                    response = await client.post("/api/v1/agent/heartbeat", content=body, headers=headers)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += 0 if ok else 1

        tasks = []
        begin = time.perf_counter()
        sent = 0
        while (elapsed := time.perf_counter() - begin) < seconds:
            due = int(elapsed * rate) + 1
            while sent < due:
                device_id, key = order[sent % len(order)]
                tasks.append(asyncio.create_task(one(device_id, key)))
                sent += 1
            await asyncio.sleep(0.005)
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - begin
    latencies.sort()
    return {
        "offered_rps": rate,
        "achieved_rps": len(latencies) / wall,
        "sent": sent,
        "errors": errors,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
    }


def run(label: str, database_url: str | None, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="dda-bench-fleet-") as tmp:
        data_dir = Path(tmp)
        settings = Settings(data_dir=data_dir, secret_key=SECRET, portal={"database_url": database_url})
        devices = make_devices(settings, args.devices)
        port = free_port()
        env = {
            **os.environ,
            "DDA_DATA_DIR": str(data_dir),
            "DDA_SECRET_KEY": SECRET,
            "DDA_LOG_LEVEL": "WARNING",
        }
        if database_url:
            env["DDA_PORTAL__DATABASE_URL"] = database_url
        dda = str(Path(sys.executable).parent / "dda")
        server = subprocess.Popen(
            [dda, "portal", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    httpx.get(url + "/api/v1/health", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            result = asyncio.run(load(url, devices, args.seconds, args.interval))
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
    offered = result["offered_rps"]
    print(
        f"{label:10s} devices={args.devices} interval={args.interval:.0f}s offered={offered:.0f}/s "
        f"achieved={result['achieved_rps']:.0f}/s sent={result['sent']} errors={result['errors']} "
        f"({100 * result['errors'] / max(result['sent'], 1):.2f} %) p50={result['p50_ms']:.1f} ms "
        f"p99={result['p99_ms']:.1f} ms (target p99 < 100 ms, 0 errors)"
    )


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
    args = parser.parse_args()
    run("sqlite", None, args)
    if not args.no_postgres and (url := postgres_url()):
        run("postgresql", url, args)


if __name__ == "__main__":
    main()
