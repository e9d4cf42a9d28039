"""Portal data management: browse-page latency with 100k images in one use case, and upload
throughput of real-size photos through the API.

    .venv/bin/python bench/bench_portal_data.py [--images 100000] [--photos 1000] [--batch 20]
        [--databases sqlite,postgresql] [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Browse: the images' rows are inserted directly (not through HTTP) into one folder of one use case
(plus 200 sub-folders); then pages of 100 are fetched through the API (the real app in-process,
JWT auth, JSON) at cursors spread over the whole folder, and the p50/p99 of a page is printed, on
SQLite and on PostgreSQL (a scratch database is created and dropped; skipped when unreachable).

Upload: 1,000 JPEG photos of 1600x1200 (1.9 MP, generated once and cached under the system temp
folder) are uploaded in multipart batches through the API into the local store; every file is
hashed, decoded through core's safe-image gates and stored content-addressed. Prints images/s
and MB/s. The times depend on what else the machine is doing; run it on an otherwise idle box.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

PASSWORD = "Bench-Password-9!"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=100_000, help="image rows in the browsed use case")
    parser.add_argument("--pages", type=int, default=300, help="browse pages to time per database")
    parser.add_argument("--photos", type=int, default=1000, help="photos to upload (0: skip)")
    parser.add_argument("--batch", type=int, default=20, help="photos per upload request")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    return parser.parse_args()


@contextmanager
def portal_app(data_dir: Path, database_url: str | None) -> Iterator[tuple[object, object]]:
    from fastapi.testclient import TestClient

    from dda.core.settings import Settings
    from dda.portal.app import create_app

    settings = Settings(
        data_dir=data_dir, env="test", portal={"database_url": database_url, "max_upload_mb": 500}
    )
    with TestClient(create_app(settings, configure_logs=False)) as client:
        yield client, client.app.state.portal  # type: ignore[attr-defined]


def login_and_usecase(client: object, portal: object, name: str) -> tuple[dict[str, str], str]:
    from dda.portal.services import auth as auth_service

    with portal.session() as session:  # type: ignore[attr-defined]
        auth_service.create_user(session, "bench", PASSWORD, is_portal_admin=True)
    token = client.post("/api/v1/auth/login", json={"username": "bench", "password": PASSWORD}).json()  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    usecase = client.post(  # type: ignore[attr-defined]
        "/api/v1/usecases",
        json={"name": name, "settings": {"storage_quota_mb": 100_000_000}},
        headers=headers,
    )
    return headers, usecase.json()["id"]


def insert_rows(portal: object, usecase_id: str, count: int, folder: str) -> float:
    """Insert ``count`` objects + entries and 200 sub-folders straight into the database."""
    from sqlalchemy import insert

    from dda.core.db.types import utcnow
    from dda.portal.db import DataEntry, DataFolder, DataObject

    started = time.perf_counter()
    now = utcnow()
    with portal.session() as session:  # type: ignore[attr-defined]
        session.execute(
            insert(DataFolder),
            [{"usecase_id": usecase_id, "path": folder, "parent": "", "name": folder, "created_at": now}]
            + [
                {
                    "usecase_id": usecase_id,
                    "path": f"{folder}/sub-{i:03d}",
                    "parent": folder,
                    "name": f"sub-{i:03d}",
                    "created_at": now,
                }
                for i in range(200)
            ],
        )
    for start in range(0, count, 10_000):
        objects, entries = [], []
        for i in range(start, min(count, start + 10_000)):
            sha = f"{i:064x}"
            objects.append(
                {
                    "usecase_id": usecase_id,
                    "sha256": sha,
                    "kind": "image",
                    "size": 400_000,
                    "format": "JPEG",
                    "width": 1600,
                    "height": 1200,
                    "has_thumbnail": False,
                    "created_at": now,
                }
            )
            entries.append(
                {
                    "id": str(uuid.uuid4()),
                    "usecase_id": usecase_id,
                    "folder": folder,
                    "name": f"img-{i:07d}.jpg",
                    "sha256": sha,
                    "size": 400_000,
                    "created_at": now,
                }
            )
        with portal.session() as session:  # type: ignore[attr-defined]
            session.execute(insert(DataObject), objects)
            session.execute(insert(DataEntry), entries)
    return time.perf_counter() - started


def bench_browse(label: str, database_url: str | None, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, portal_app(Path(tmp), database_url) as (client, portal):
        headers, usecase_id = login_and_usecase(client, portal, "browse")
        took = insert_rows(portal, usecase_id, args.images, "line1")
        url = f"/api/v1/usecases/{usecase_id}/data/browse"
        from dda.portal.services.data import _encode_cursor

        step = max(1, args.images // args.pages)
        cursors = [
            None,
            *(_encode_cursor("i", f"img-{i:07d}.jpg") for i in range(0, args.images - 100, step)),
        ]
        for cursor in cursors[:5]:  # warm caches and connections
            client.get(
                url,
                params={"folder": "line1", "limit": 100, **({"cursor": cursor} if cursor else {})},
                headers=headers,
            )  # type: ignore[attr-defined]
        times = []
        for cursor in cursors[: args.pages]:
            started = time.perf_counter()
            response = client.get(  # type: ignore[attr-defined]
                url,
                params={"folder": "line1", "limit": 100, **({"cursor": cursor} if cursor else {})},
                headers=headers,
            )
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
            body = response.json()
            assert len(body["folders"]) + len(body["images"]) == 100
        times.sort()
        p50 = statistics.median(times)
        p99 = times[min(len(times) - 1, round(len(times) * 0.99))]
        print(
            f"browse [{label}] {args.images:,} images in one folder (+200 sub-folders), page of 100, "
            f"{len(times)} pages: p50 {p50:.1f} ms, p99 {p99:.1f} ms  (rows inserted in {took:.0f} s)"
        )


@contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str | None]:
    import sqlalchemy

    name = f"dda_bench_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    except sqlalchemy.exc.OperationalError as exc:
        print(f"PostgreSQL not reachable ({str(exc).splitlines()[0]}); skipped")
        yield None
        return
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def photos(count: int) -> list[Path]:
    """1600x1200 JPEGs (about 0.5 MB each): one shaded, noisy base picture, shifted and tinted
    differently for each photo so every file has its own bytes; made once and cached."""
    folder = Path(tempfile.gettempdir()) / "dda-bench-photos-1600x1200-v3"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:1200, 0:1600].astype(np.float32)
    base = np.stack([127 + 80 * np.sin(xx / (90 + 7 * c) + yy / 140 + c) for c in range(3)], axis=2)
    base = np.clip(base + rng.normal(0, 12, size=base.shape), 0, 255).astype(np.uint8)
    paths = []
    for i in range(count):
        path = folder / f"photo-{i:04d}.jpg"
        if not path.is_file():
            own = np.random.default_rng([1, i])  # per photo: the cache may hold any subset
            shifted = np.roll(base, (int(own.integers(0, 1200)), int(own.integers(0, 1600))), axis=(0, 1))
            tint = own.integers(0, 40, size=3, dtype=np.uint8)
            Image.fromarray(shifted + tint).save(path, quality=88)
        paths.append(path)
    return paths


def bench_upload(args: argparse.Namespace) -> None:
    files = photos(args.photos)
    total_mb = sum(p.stat().st_size for p in files) / 1e6
    with tempfile.TemporaryDirectory() as tmp, portal_app(Path(tmp), None) as (client, portal):
        headers, usecase_id = login_and_usecase(client, portal, "upload")
        url = f"/api/v1/usecases/{usecase_id}/data/images"
        started = time.perf_counter()
        stored = 0
        for start in range(0, len(files), args.batch):
            batch = files[start : start + args.batch]
            parts = [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in batch]
            response = client.post(url, params={"folder": "photos"}, files=parts, headers=headers)  # type: ignore[attr-defined]
            assert response.status_code == 201, response.text
            stored += response.json()["counts"]["stored"]
        took = time.perf_counter() - started
    assert stored == len(files), stored
    print(
        f"upload [sqlite, local store] {len(files)} photos 1600x1200 ({total_mb:.0f} MB) in batches of "
        f"{args.batch}: {took:.1f} s = {len(files) / took:.1f} images/s, {total_mb / took:.1f} MB/s "
        f"({os.cpu_count()} CPUs)"
    )


def main() -> None:
    args = parse_args()
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if "sqlite" in databases:
        bench_browse("sqlite", None, args)
    if "postgresql" in databases:
        with scratch_postgres(args.postgres_url) as url:
            if url is not None:
                bench_browse("postgresql", url, args)
    if args.photos:
        bench_upload(args)


if __name__ == "__main__":
    main()
