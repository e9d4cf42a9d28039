"""Audit log queries with 10k rows in one use case, on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_portal_audit.py [--rows 10000] [--noise 2000] [--queries 200]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Builds a throw-away portal per database, appends ``--rows`` hash-chained audit rows to one use case
(and ``--noise`` to another), then times the query API through the real app (auth, permission check,
query, JSON) as that use case's UseCaseAdmin: the newest page, a page deep in the log (keyset
cursor), a filter by action, by user and by time range, and the streamed CSV export of everything.
Prints p50/p99 per query in milliseconds. PostgreSQL is skipped when the server is not reachable.

The times depend on what else the machine is doing; run it on an otherwise idle box.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy
from fastapi.testclient import TestClient

from dda.core.settings import Settings
from dda.portal.app import create_app
from dda.portal.db import RoleAssignment
from dda.portal.permissions import Role
from dda.portal.services import audit as audit_service
from dda.portal.services import auth as auth_service
from dda.portal.services.audit import AuditEntry

PASSWORD = "Bench-Password-9x!"
ACTIONS = ("dataset.create", "data.upload", "model.stage", "usecase.update", "deployment.create")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000, help="audit rows in the measured use case")
    parser.add_argument("--noise", type=int, default=2_000, help="audit rows in another use case")
    parser.add_argument("--queries", type=int, default=200, help="timed calls per query kind")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    return parser.parse_args()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fill(client: TestClient, rows: int, noise: int) -> tuple[str, dict[str, str], list[str]]:
    portal = client.app.state.portal  # type: ignore[attr-defined]
    with portal.session() as session:
        admin = auth_service.create_user(session, "root", PASSWORD, is_portal_admin=True)
        owner = auth_service.create_user(session, "owner", PASSWORD)
    token = client.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    target = client.post("/api/v1/usecases", json={"name": "measured"}, headers=headers).json()["id"]
    other = client.post("/api/v1/usecases", json={"name": "noise"}, headers=headers).json()["id"]
    with portal.session() as session:
        session.add(RoleAssignment(user_id=owner.id, usecase_id=target, role=Role.USECASE_ADMIN.value))
    users = [admin.id, owner.id, str(uuid.uuid4())]
    plan = [target] * rows + [other] * noise
    random.Random(7).shuffle(plan)
    for start in range(0, len(plan), 1000):
        with portal.session() as session:
            for number, usecase_id in enumerate(plan[start : start + 1000], start):
                entry = AuditEntry(
                    action=ACTIONS[number % len(ACTIONS)],
                    usecase_id=usecase_id,
                    actor_id=users[number % len(users)],
                    actor_name="owner",
                    target_type="object",
                    target_id=str(number),
                    summary={"n": number},
                )
                audit_service.append(session, entry)
    if portal.engine.dialect.name == "postgresql":  # fresh statistics, as autovacuum would leave them
        with portal.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sqlalchemy.text("ANALYZE audit_events"))
    login = client.post("/api/v1/auth/login", json={"username": "owner", "password": PASSWORD}).json()
    return target, {"Authorization": f"Bearer {login['access_token']}"}, users


def timed(call: Callable[[], object], count: int) -> tuple[float, float]:
    spent = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent), percentile(spent, 0.99)


def measure(name: str, database_url: str | None, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), env="test", portal={"database_url": database_url})  # type: ignore[arg-type]
        with TestClient(create_app(settings, configure_logs=False)) as client:
            started = time.perf_counter()
            target, headers, users = fill(client, args.rows, args.noise)
            fill_s = time.perf_counter() - started
            url = f"/api/v1/usecases/{target}/audit"
            deep = client.get(url, params={"limit": 500}, headers=headers).json()["next_cursor"]
            since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()

            def get(**params: object) -> Callable[[], object]:
                def call() -> object:
                    response = client.get(url, params={"limit": 100, **params}, headers=headers)
                    assert response.status_code == 200, response.text
                    return response

                return call

            kinds = {
                "newest page (100)": get(),
                "deep page (cursor)": get(cursor=deep),
                "filter action": get(action="model.stage"),
                "filter user": get(user=users[1]),
                "filter time range": get(since=since, outcome="success"),
            }
            where = f"{args.rows} rows in the use case (+{args.noise} elsewhere)"
            print(f"\n{name}: {where}, filled in {fill_s:.1f} s")
            for label, call in kinds.items():
                p50, p99 = timed(call, args.queries)
                print(f"  {label:<22} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
            started = time.perf_counter()
            export = client.get(url + "/export", headers=headers)
            lines = export.text.count("\n") - 1
            print(f"  CSV export             {lines} rows in {(time.perf_counter() - started) * 1000:.0f} ms")


def postgres_database(admin_url: str) -> tuple[str, Callable[[], None]] | None:
    engine = sqlalchemy.create_engine(
        admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    name = f"dda_bench_{uuid.uuid4().hex[:10]}"
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    except sqlalchemy.exc.OperationalError:
        return None

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


def main() -> None:
    args = parse_args()
    measure("SQLite", None, args)
    made = postgres_database(args.postgres)
    if made is None:
        print("\nPostgreSQL: not reachable, skipped")
        return
    url, drop = made
    try:
        measure("PostgreSQL", url, args)
    finally:
        drop()


if __name__ == "__main__":
    main()
