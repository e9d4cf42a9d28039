"""Data management through the API: batches with bad files, dedupe, quota, browse, thumbnails, delete."""

from __future__ import annotations

import hashlib

from dda.portal.permissions import Role
from tests.portal.conftest import PortalHarness
from tests.portal.data_support import (
    bytes_used,
    data_case,
    jpeg_bytes,
    png_bomb,
    png_bytes,
    zip_bomb,
    zip_of,
)


def _by_name(body: dict) -> dict[str, dict]:
    return {item["name"]: item for item in body["items"]}


def test_batch_lands_good_files_and_reports_each_bad_one(portal: PortalHarness) -> None:
    case = data_case(portal)
    good, other = jpeg_bytes(seed=1), png_bytes(seed=2)
    truncated = jpeg_bytes(seed=3)[:600]
    files = [
        ("a.jpg", good),
        ("b.png", other),
        ("copy-of-a.jpg", good),  # same bytes, another name: stored once, reported as duplicate
        ("broken.jpg", truncated),
        ("bomb.png", png_bomb()),
        ("notes.txt", b"just some text"),
        ("../escape.jpg", good),
        ("batch.zip", zip_of({"inner/c.jpg": jpeg_bytes(seed=4), "inner/again-a.jpg": good})),
        ("evil.zip", zip_of({"../../outside.jpg": good})),
        ("bomb.zip", zip_bomb(megabytes=64)),
    ]
    response = case.upload(files, folder="line1/day1")
    assert response.status_code == 201, response.text
    items = _by_name(response.json())
    assert items["a.jpg"]["status"] == "stored"
    assert items["a.jpg"]["sha256"] == hashlib.sha256(good).hexdigest()
    assert items["b.png"]["status"] == "stored" and items["b.png"]["width"] == 64
    assert items["copy-of-a.jpg"]["status"] == "duplicate"
    assert items["copy-of-a.jpg"]["duplicate_of"] == "line1/day1/a.jpg"
    assert items["batch.zip:inner/c.jpg"]["status"] == "stored"
    assert items["batch.zip:inner/c.jpg"]["path"] == "line1/day1/inner/c.jpg"
    assert items["batch.zip:inner/again-a.jpg"]["status"] == "duplicate"
    for bad, words in [
        ("broken.jpg", "truncated"),
        ("bomb.png", "pixels"),
        ("notes.txt", "unrecognised"),
        ("../escape.jpg", "not an allowed name"),
        ("evil.zip", ".."),
        ("bomb.zip", "more than"),
    ]:
        assert items[bad]["status"] == "rejected", (bad, items[bad])
        assert words in items[bad]["error"], (bad, items[bad]["error"])
        assert items[bad]["hint"]
        assert "/tmp" not in items[bad]["error"]  # never a server path
    assert response.json()["counts"] == {"stored": 3, "duplicate": 2, "exists": 0, "rejected": 6}
    # Each distinct content is counted once against the quota.
    assert bytes_used(portal, case.usecase_id) == len(good) + len(other) + len(jpeg_bytes(seed=4))
    # Uploading the same batch again: every good name already holds these bytes.
    again = case.upload([("a.jpg", good)], folder="line1/day1")
    assert again.status_code == 200 and again.json()["items"][0]["status"] == "exists"
    clash = case.upload([("a.jpg", other)], folder="line1/day1")
    assert clash.status_code == 422 and clash.json()["items"][0]["code"] == "conflict"


def test_browse_pages_folders_then_images_and_serves_cached_thumbnails(sqlite_portal: PortalHarness) -> None:
    case = data_case(sqlite_portal)
    for sub in ("b", "a", "c"):
        assert case.upload([("x.jpg", jpeg_bytes(seed=ord(sub)))], folder=f"root/{sub}").status_code == 201
    images = [(f"img-{i:02d}.jpg", jpeg_bytes(seed=100 + i)) for i in range(5)]
    assert case.upload(images, folder="root").status_code == 201
    seen_folders: list[str] = []
    seen_images: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = case.browse("root", limit=2, **({"cursor": cursor} if cursor else {}))
        seen_folders += [f["path"] for f in page["folders"]]
        seen_images += [i["name"] for i in page["images"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen_folders == ["root/a", "root/b", "root/c"]
    assert seen_images == [name for name, _ in images]
    assert pages == 4
    assert [f["name"] for f in case.browse("")["folders"]] == ["root"]

    image = case.browse("root", limit=10)["images"][0]
    client = sqlite_portal.client
    first = client.get(image["thumbnail_url"], headers=case.headers)
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    etag = first.headers["etag"]
    import io

    from PIL import Image

    assert max(Image.open(io.BytesIO(first.content)).size) <= 256
    cached = client.get(image["thumbnail_url"], headers={**case.headers, "If-None-Match": etag})
    assert cached.status_code == 304
    again = client.get(image["thumbnail_url"], headers=case.headers)
    assert again.content == first.content
    from dda.portal.services.thumbnails import thumbnail_key

    with sqlite_portal.portal.session() as session:
        from dda.portal.repositories import usecases as usecases_repo
        from dda.portal.services.data import usecase_store

        row = usecases_repo.by_id(session, case.usecase_id)
        assert row is not None
        assert usecase_store(sqlite_portal.portal, row).exists(thumbnail_key(image["sha256"]))
    content = client.get(f"{case.base}/data/images/{image['id']}/content", headers=case.headers)
    assert hashlib.sha256(content.content).hexdigest() == image["sha256"]
    bad_cursor = client.get(f"{case.base}/data/browse", params={"cursor": "bm9wZQ"}, headers=case.headers)
    assert bad_cursor.status_code == 422


def test_crafted_folder_and_names_are_refused(sqlite_portal: PortalHarness) -> None:
    case = data_case(sqlite_portal)
    client = sqlite_portal.client
    crafted = [
        "..",
        "../other",
        "a/../../b",
        "/etc",
        "%2e%2e",
        "a\\..\\b",
        "a\x00b",
        "C:",
        "a//b",
        ".hidden",
        " a",
    ]
    for folder in crafted:
        browse = client.get(f"{case.base}/data/browse", params={"folder": folder}, headers=case.headers)
        assert browse.status_code == 422, (folder, browse.status_code)
        upload = case.upload([("a.jpg", jpeg_bytes())], folder=folder)
        assert upload.status_code == 422, (folder, upload.status_code)
    # Already-decoded traversal in the raw query string.
    raw = client.get(f"{case.base}/data/browse?folder=%2e%2e%2fother", headers=case.headers)
    assert raw.status_code == 422
    names = ["..", "../a.jpg", "/abs.jpg", "a\\b.jpg", "%2e%2e.jpg", ".env"]
    body = case.upload([(n, jpeg_bytes(seed=i)) for i, n in enumerate(names)]).json()
    assert [item["status"] for item in body["items"]] == ["rejected"] * len(names)
    assert case.browse("")["images"] == []


def test_other_tenants_images_are_404_and_roles_are_enforced(portal: PortalHarness) -> None:
    case = data_case(portal, "mine")
    other = portal.create_usecase(case.admin, "theirs")
    theirs = portal.client.post(
        f"/api/v1/usecases/{other}/data/images",
        files=[("files", ("t.jpg", jpeg_bytes(seed=9), "image/jpeg"))],
        headers=case.admin,
    ).json()["items"][0]["entry_id"]
    for path in ("", "/thumbnail", "/content"):
        response = portal.client.get(f"{case.base}/data/images/{theirs}{path}", headers=case.headers)
        assert response.status_code == 404, path
    assert portal.client.delete(f"{case.base}/data/images/{theirs}", headers=case.headers).status_code == 404
    # No role in the other use case: the use case itself is not found.
    assert portal.client.get(f"/api/v1/usecases/{other}/data/browse", headers=case.headers).status_code == 404
    portal.make_user("vera", role=Role.VIEWER, usecase_id=case.usecase_id)
    viewer = portal.login("vera")
    assert portal.client.get(f"{case.base}/data/browse", headers=viewer).status_code == 200
    denied = portal.client.post(
        f"{case.base}/data/images", files=[("files", ("v.jpg", jpeg_bytes(), "image/jpeg"))], headers=viewer
    )
    assert denied.status_code == 403


def test_delete_frees_the_object_and_quota_stops_uploads(sqlite_portal: PortalHarness) -> None:
    case = data_case(sqlite_portal, settings={"storage_quota_mb": 1})
    big = [jpeg_bytes(560, 560, seed=i, quality=95) for i in range(3)]  # ~0.4-0.5 MB each of noise
    assert all(300_000 < len(b) < 600_000 for b in big)
    first = case.upload([("one.jpg", big[0]), ("two.jpg", big[1])])
    assert first.status_code == 201
    assert first.json()["counts"]["stored"] == 2
    full = case.upload([("three.jpg", big[2])])
    assert full.status_code == 507
    assert full.json()["items"][0]["code"] == "quota_exceeded"
    entry = first.json()["items"][0]["entry_id"]
    used = bytes_used(sqlite_portal, case.usecase_id)
    assert (
        sqlite_portal.client.delete(f"{case.base}/data/images/{entry}", headers=case.headers).status_code
        == 204
    )
    assert bytes_used(sqlite_portal, case.usecase_id) == used - len(big[0])
    assert case.upload([("three.jpg", big[2])]).status_code == 201
    gone = sqlite_portal.client.get(f"{case.base}/data/images/{entry}", headers=case.headers)
    assert gone.status_code == 404


def test_a_request_over_the_size_cap_is_413(make_portal) -> None:  # type: ignore[no-untyped-def]
    harness = make_portal(None, max_upload_mb=1)
    case = data_case(harness)
    response = case.upload([("big.jpg", jpeg_bytes(900, 900, quality=98))])
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_bombs_are_refused_in_bounded_memory(sqlite_portal: PortalHarness) -> None:
    import tracemalloc

    case = data_case(sqlite_portal)
    bombs = [("bomb.png", png_bomb(side=60_000)), ("bomb.zip", zip_bomb(megabytes=64))]
    tracemalloc.start()
    try:
        response = case.upload(bombs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 422
    assert [i["status"] for i in response.json()["items"]] == ["rejected", "rejected"]
    # 3.6 gigapixels declared, 64 MB inflated: neither is ever held in memory.
    assert peak < 32 * 1024 * 1024, peak


def test_the_same_bytes_uploaded_at_once_are_stored_and_counted_once(portal: PortalHarness, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func, select

    from dda.portal.db import DataObject
    from dda.portal.services import uploads

    case = data_case(portal)
    data = jpeg_bytes(300, 200, seed=77)
    paths = []
    for i in range(6):
        path = tmp_path / f"{i}.jpg"
        path.write_bytes(data)
        paths.append(path)

    def land(i: int) -> str:
        result = uploads.ingest_files(
            portal.portal, case.usecase_id, None, f"cam{i}", [("same.jpg", paths[i])]
        )
        return result.items[0].status

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(land, range(6)))
    assert sorted(statuses).count("stored") >= 1 and set(statuses) <= {"stored", "duplicate"}, statuses
    assert bytes_used(portal, case.usecase_id) == len(data)
    with portal.portal.session() as session:
        assert session.scalar(select(func.count()).select_from(DataObject)) == 1
