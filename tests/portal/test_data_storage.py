"""The data area on a real S3 API server (moto_server), and imports from server folders and S3 prefixes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import boto3
import pytest

from dda.formats.synthetic import generate_synthetic_dataset
from tests.portal.conftest import PortalHarness
from tests.portal.data_support import data_case, jpeg_bytes, write_tree


def _bucket(endpoint: str, name: str) -> object:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=name)
    return client


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_upload_browse_version_export_on_s3(
    make_portal,
    moto_server: str,
    s3_bucket_name: str,
    tmp_path: Path,
    database: str,
    request: pytest.FixtureRequest,
) -> None:  # type: ignore[no-untyped-def]
    url = request.getfixturevalue("postgres_database_url") if database == "postgresql" else None
    harness: PortalHarness = make_portal(url)
    s3 = _bucket(moto_server, s3_bucket_name)
    location = {
        "endpoint_url": moto_server,
        "bucket": s3_bucket_name,
        "prefix": "plant/line1",
        "access_key_id": "testing",
        "secret_access_key": "testing",
    }
    case = data_case(harness, s3=location)
    manifest = generate_synthetic_dataset(tmp_path / "synth", count=6, size=(64, 64), progress=False)
    for sub in ("images", "masks"):
        files = [(p.name, p.read_bytes()) for p in sorted((manifest.parent / sub).iterdir())]
        assert case.upload(files, folder=f"synth/{sub}").status_code == 201
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket_name)["Contents"]]  # type: ignore[attr-defined]
    assert any(k.startswith("plant/line1/images/sha256/") for k in keys)
    image = case.browse("synth/images")["images"][0]
    thumb = harness.client.get(image["thumbnail_url"], headers=case.headers)
    assert thumb.status_code == 200 and thumb.headers["etag"]
    dataset = harness.client.post(
        f"{case.base}/datasets", json={"name": "s3set"}, headers=case.headers
    ).json()
    version = harness.client.post(
        f"{case.base}/datasets/{dataset['id']}/versions",
        data={"format": "gt", "images_folder": "synth"},
        files={"labels": ("m", manifest.read_bytes())},
        headers=case.headers,
    )
    assert version.status_code == 201, version.text
    exported = harness.client.get(
        f"{case.base}/datasets/{dataset['id']}/versions/{version.json()['id']}/export",
        params={"format": "coco"},
        headers=case.headers,
    )
    assert exported.status_code == 200
    assert any(n.endswith(".json") for n in zipfile.ZipFile(io.BytesIO(exported.content)).namelist())
    assert (
        harness.client.delete(f"{case.base}/data/images/{image['id']}", headers=case.headers).status_code
        == 409
    )


def test_import_s3_prefix_with_given_credentials(make_portal, moto_server: str, s3_bucket_name: str) -> None:  # type: ignore[no-untyped-def]
    harness: PortalHarness = make_portal(None, import_s3_endpoints=[moto_server])
    s3 = _bucket(moto_server, s3_bucket_name)
    for i in range(3):
        s3.put_object(Bucket=s3_bucket_name, Key=f"incoming/day1/{i}.jpg", Body=jpeg_bytes(seed=i))  # type: ignore[attr-defined]
    s3.put_object(Bucket=s3_bucket_name, Key="incoming/day1/bad.jpg", Body=b"not an image")  # type: ignore[attr-defined]
    s3.put_object(Bucket=s3_bucket_name, Key="elsewhere/x.jpg", Body=jpeg_bytes(seed=9))  # type: ignore[attr-defined]
    case = data_case(harness)
    body = {
        "endpoint_url": moto_server,
        "bucket": s3_bucket_name,
        "prefix": "incoming",
        "access_key_id": "testing",
        "secret_access_key": "testing",
        "folder": "imported",
    }
    response = harness.client.post(f"{case.base}/data/import/s3", json=body, headers=case.headers)
    assert response.status_code == 201, response.text
    assert response.json()["counts"] == {"stored": 3, "duplicate": 0, "exists": 0, "rejected": 1}
    assert [i["name"] for i in case.browse("imported/day1")["images"]] == ["0.jpg", "1.jpg", "2.jpg"]
    # The credentials were used once, not stored (nor written to the audit log).
    with harness.portal.session() as session:
        from sqlalchemy import select

        from dda.portal.db import AuditEvent

        summaries = " ".join(str(r.summary) for r in session.scalars(select(AuditEvent)))
    assert "testing" not in summaries
    elsewhere = {**body, "endpoint_url": "http://169.254.169.254"}
    denied = harness.client.post(f"{case.base}/data/import/s3", json=elsewhere, headers=case.headers)
    assert denied.status_code == 403
    crafted = {**body, "prefix": "../incoming"}
    assert (
        harness.client.post(f"{case.base}/data/import/s3", json=crafted, headers=case.headers).status_code
        == 422
    )


def test_import_server_folder_only_under_configured_roots(make_portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    share = write_tree(
        tmp_path / "share",
        {"cam1/a.jpg": jpeg_bytes(seed=1), "cam1/sub/b.jpg": jpeg_bytes(seed=2), "cam1/readme.txt": b"x"},
    )
    secret = write_tree(tmp_path / "secret", {"s.jpg": jpeg_bytes(seed=3)})
    (share / "cam1" / "link.jpg").symlink_to(secret / "s.jpg")
    (share / "cam1" / "linkdir").symlink_to(secret, target_is_directory=True)
    harness: PortalHarness = make_portal(None, import_roots={"plant": str(share)})
    case = data_case(harness)
    client = harness.client
    ok = client.post(
        f"{case.base}/data/import/folder",
        json={"root": "plant", "path": "cam1", "folder": "cams"},
        headers=case.headers,
    )
    assert ok.status_code == 201, ok.text
    assert sorted(i["path"] for i in ok.json()["items"]) == ["cams/a.jpg", "cams/sub/b.jpg"]
    for body in (
        {"root": "plant", "path": "../secret"},
        {"root": "plant", "path": "/etc"},
        {"root": "plant", "path": "cam1/linkdir"},
        {"root": "nope", "path": ""},
        {"root": "plant", "path": "cam1", "folder": "../x"},
    ):
        response = client.post(f"{case.base}/data/import/folder", json=body, headers=case.headers)
        assert response.status_code in (404, 422), (body, response.status_code)
        assert str(tmp_path) not in response.text


def test_import_from_an_attached_data_location(sqlite_portal: PortalHarness) -> None:
    from dda.portal.db import DataLocation, UseCaseDataLocation
    from dda.portal.services import data_locations

    case = data_case(sqlite_portal)
    with sqlite_portal.portal.session() as session:
        shared = DataLocation(name="shared-cookies", status="ready")
        unattached = DataLocation(name="other", status="ready")
        session.add_all([shared, unattached])
        session.flush()
        session.add(UseCaseDataLocation(usecase_id=case.usecase_id, data_location_id=shared.id))
        store = data_locations.store(sqlite_portal.portal, shared)
        for i in range(2):
            store.put_bytes(f"datasets/cookies/{i}.jpg", jpeg_bytes(seed=50 + i))
        shared_id, unattached_id = shared.id, unattached.id
    url = f"{case.base}/data/import/s3"
    body = {"data_location_id": shared_id, "prefix": "datasets/cookies/", "folder": "shared"}
    response = sqlite_portal.client.post(url, json=body, headers=case.headers)
    assert response.status_code == 201, response.text
    assert [i["name"] for i in case.browse("shared")["images"]] == ["0.jpg", "1.jpg"]
    denied = sqlite_portal.client.post(
        url, json={**body, "data_location_id": unattached_id}, headers=case.headers
    )
    assert denied.status_code == 404
