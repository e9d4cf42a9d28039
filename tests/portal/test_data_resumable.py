"""Resumable (tus-style) uploads: chunks at offsets, a cut connection resumes, finish lands the file."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from tests.portal.conftest import PortalHarness
from tests.portal.data_support import data_case, jpeg_bytes, zip_of


def test_resumable_upload_resumes_after_a_cut_and_lands_an_archive(portal: PortalHarness) -> None:
    case = data_case(portal)
    client = portal.client
    images = {f"part/{i}.jpg": jpeg_bytes(200, 150, seed=i) for i in range(4)}
    payload = zip_of(images)
    created = client.post(
        f"{case.base}/data/uploads",
        json={"folder": "big", "name": "batch.zip", "size": len(payload)},
        headers=case.headers,
    )
    assert created.status_code == 201, created.text
    upload = created.json()
    url = f"{case.base}/data/uploads/{upload['id']}"
    third = len(payload) // 3

    def send(offset: int, chunk: bytes) -> object:
        return client.patch(
            url,
            content=chunk,
            headers={
                **case.headers,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
        )

    first = send(0, payload[:third])
    assert first.status_code == 200 and first.headers["Upload-Offset"] == str(third)
    # The answer to the next chunk is lost (a cut): the client sends it again at the old offset.
    assert send(third, payload[third : 2 * third]).status_code == 200
    retried = send(third, payload[third : 2 * third])
    assert retried.status_code == 409
    # It asks where to resume and goes on from there.
    status = client.get(url, headers=case.headers)
    assert status.status_code == 200 and status.json()["offset"] == 2 * third
    assert status.headers["Upload-Offset"] == str(2 * third)
    early = client.post(f"{url}/finish", headers=case.headers)
    assert early.status_code == 409
    too_long = send(2 * third, payload[2 * third :] + b"extra")
    assert too_long.status_code == 422
    assert send(2 * third, payload[2 * third :]).status_code == 200
    done = client.post(f"{url}/finish", headers=case.headers)
    assert done.status_code == 201, done.text
    assert done.json()["counts"]["stored"] == 4
    names = {i["name"]: i for i in done.json()["items"]}
    assert names["batch.zip:part/0.jpg"]["sha256"] == hashlib.sha256(images["part/0.jpg"]).hexdigest()
    assert [i["name"] for i in case.browse("big/part")["images"]] == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]
    # Finished uploads are closed; chunks were removed from the store.
    assert client.get(url, headers=case.headers).status_code == 409
    from dda.portal.repositories import usecases as usecases_repo
    from dda.portal.services.data import usecase_store

    with portal.portal.session() as session:
        row = usecases_repo.by_id(session, case.usecase_id)
        assert row is not None
        assert usecase_store(portal.portal, row).list(f"uploads/{upload['id']}/") == []


def test_resumable_upload_limits(make_portal) -> None:  # type: ignore[no-untyped-def]
    harness = make_portal(None, max_resumable_upload_mb=1, upload_chunk_mb=1)
    case = data_case(harness, settings={"storage_quota_mb": 2})
    client = harness.client
    too_big = client.post(
        f"{case.base}/data/uploads", json={"name": "x.zip", "size": 3 * 1024 * 1024}, headers=case.headers
    )
    assert too_big.status_code == 413
    bad_name = client.post(
        f"{case.base}/data/uploads", json={"name": "../x.zip", "size": 10}, headers=case.headers
    )
    assert bad_name.status_code == 422
    ok = client.post(f"{case.base}/data/uploads", json={"name": "x.jpg", "size": 10}, headers=case.headers)
    url = f"{case.base}/data/uploads/{ok.json()['id']}"
    chunk = client.patch(
        url, content=b"x" * (2 * 1024 * 1024), headers={**case.headers, "Upload-Offset": "0"}
    )
    assert chunk.status_code == 413
    assert client.delete(url, headers=case.headers).status_code == 204
    assert client.get(url, headers=case.headers).status_code == 409
    missing = client.get(
        f"{case.base}/data/uploads/00000000-0000-0000-0000-000000000000", headers=case.headers
    )
    assert missing.status_code == 404


def test_abandoned_uploads_are_purged(sqlite_portal: PortalHarness) -> None:
    from datetime import UTC, datetime, timedelta

    from dda.portal.db import UploadSession

    case = data_case(sqlite_portal)
    client = sqlite_portal.client
    upload = client.post(
        f"{case.base}/data/uploads", json={"name": "x.zip", "size": 10}, headers=case.headers
    ).json()
    url = f"{case.base}/data/uploads/{upload['id']}"
    assert (
        client.patch(url, content=b"12345", headers={**case.headers, "Upload-Offset": "0"}).status_code == 200
    )
    with sqlite_portal.portal.session() as session:
        row = session.get(UploadSession, upload["id"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert client.get(url, headers=case.headers).status_code == 409  # expired
    client.post(f"{case.base}/data/uploads", json={"name": "y.zip", "size": 10}, headers=case.headers)
    with sqlite_portal.portal.session() as session:
        row = session.get(UploadSession, upload["id"])
        assert row is not None and row.status == "expired"
        from dda.portal.repositories import usecases as usecases_repo
        from dda.portal.services.data import usecase_store

        usecase = usecases_repo.by_id(session, case.usecase_id)
        assert usecase is not None
        assert usecase_store(sqlite_portal.portal, usecase).list(f"uploads/{upload['id']}/") == []


def test_a_chunk_cut_mid_way_leaves_the_offset_and_the_upload_resumes(isolated_settings: Path) -> None:
    """A real server and a real socket: the connection drops half-way through a chunk."""
    import socket

    import httpx

    from dda.portal.app import create_app
    from dda.portal.services import auth as auth_service
    from tests.portal.conftest import PASSWORD, portal_settings
    from tests.station.server_util import serve_in_thread

    app = create_app(portal_settings(isolated_settings, None), configure_logs=False)
    payload = zip_of({f"{i}.jpg": jpeg_bytes(160, 120, seed=i) for i in range(3)})
    with serve_in_thread(app) as address:
        with app.state.portal.session() as session:
            auth_service.create_user(session, "root", PASSWORD, is_portal_admin=True)
        with httpx.Client(base_url=f"http://{address}", timeout=30) as client:
            token = client.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            usecase = client.post("/api/v1/usecases", json={"name": "cut"}, headers=headers).json()["id"]
            base = f"/api/v1/usecases/{usecase}/data/uploads"
            upload = client.post(base, json={"name": "b.zip", "size": len(payload)}, headers=headers).json()
            url = f"{base}/{upload['id']}"
            host, port = address.split(":")
            with socket.create_connection((host, int(port))) as raw:
                head = (
                    f"PATCH {url} HTTP/1.1\r\nHost: {address}\r\n"
                    f"Authorization: {headers['Authorization']}\r\n"
                    f"Upload-Offset: 0\r\nContent-Length: {len(payload)}\r\n\r\n"
                )
                raw.sendall(head.encode() + payload[: len(payload) // 2])
                time.sleep(0.5)  # the server is reading the body ... and the line goes dead
            status = client.get(url, headers=headers)
            assert status.status_code == 200 and status.json()["offset"] == 0  # nothing half-stored
            resumed = client.patch(url, content=payload, headers={**headers, "Upload-Offset": "0"})
            assert resumed.status_code == 200, resumed.text
            done = client.post(f"{url}/finish", headers=headers)
            assert done.status_code == 201 and done.json()["counts"]["stored"] == 3
