"""Use cases and data locations on their own S3 API bucket with their own credentials, against a
real S3 API server (moto_server): onboarding, failures with clear reasons that never show the
secret, re-onboarding; credentials encrypted at rest.

Wrong credentials need a server that checks them: ``auth_s3`` starts a second moto_server with
authentication on and makes an IAM user whose keys are the right ones.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy import select

from dda.core.errors import PermissionDenied
from dda.portal.db import AuditEvent, UseCase
from dda.portal.services import storage
from tests.core.conftest import _moto_server_command, _wait_until_answering
from tests.portal.conftest import PortalHarness
from tests.procs import free_port, stop_process

SECRET = "Sup3r-Secret-Value-0042"


@dataclass(frozen=True)
class AuthS3:
    endpoint: str
    access_key_id: str
    secret_access_key: str


@pytest.fixture(scope="module")
def auth_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthS3]:
    """A moto_server that checks credentials, with one IAM user allowed everything."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto-auth") / "moto.log"
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "4"}  # the probe + three IAM calls
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [*_moto_server_command(), "-H", "127.0.0.1", "-p", str(port)],
            stdout=handle,
            stderr=handle,
            env=env,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(endpoint + "/", process, log)
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="y",
        )
        iam.create_user(UserName="dda")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="dda", PolicyName="all", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="dda")["AccessKey"]
        yield AuthS3(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        stop_process(process, timeout_s=10)


def s3_client(endpoint: str, key_id: str = "testing", secret: str = "testing") -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


def location(endpoint: str, bucket: str, *, key_id: str = "testing", secret: str = SECRET) -> dict[str, str]:
    return {
        "endpoint_url": endpoint,
        "bucket": bucket,
        "prefix": "tenants/line-1",
        "access_key_id": key_id,
        "secret_access_key": secret,
    }


def _no_secret_anywhere(harness: PortalHarness, secret: str, *texts: str) -> None:
    for text in texts:
        assert secret not in text
    with harness.portal.session() as session:
        for row in session.scalars(select(UseCase)):
            assert secret not in json.dumps([row.s3_secret_encrypted, row.onboarding_error, row.settings])
        for event in session.scalars(select(AuditEvent)):
            assert secret not in json.dumps(event.summary)


def test_usecase_on_its_own_bucket_is_onboarded_there(
    sqlite_portal: PortalHarness, moto_server: str, s3_bucket_name: str
) -> None:
    s3_client(moto_server).create_bucket(Bucket=s3_bucket_name)
    sqlite_portal.make_user("root", admin=True)
    admin = sqlite_portal.login("root")
    created = sqlite_portal.client.post(
        "/api/v1/usecases",
        json={"name": "s3-line", "s3": location(moto_server, s3_bucket_name)},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["onboarding_status"] == "ready", body
    assert body["storage"] == f"s3://{s3_bucket_name}/tenants/line-1 at {moto_server}"
    listed = s3_client(moto_server).list_objects_v2(Bucket=s3_bucket_name)["Contents"]
    folders = {item["Key"].split("/")[2] for item in listed}
    assert folders == set(storage.LAYOUT)
    assert all(item["Key"].startswith("tenants/line-1/") for item in listed)
    with sqlite_portal.portal.session() as session:
        row = session.get(UseCase, body["id"])
        assert row is not None and row.s3_secret_encrypted
        assert storage.decrypt_secret(sqlite_portal.portal, row.s3_secret_encrypted) == SECRET
    _no_secret_anywhere(sqlite_portal, SECRET, created.text)


def test_missing_bucket_fails_clearly_then_reonboards(
    sqlite_portal: PortalHarness, moto_server: str, s3_bucket_name: str
) -> None:
    sqlite_portal.make_user("root", admin=True)
    admin = sqlite_portal.login("root")
    body = {"name": "no-bucket", "s3": location(moto_server, s3_bucket_name)}
    created = sqlite_portal.client.post("/api/v1/usecases", json=body, headers=admin).json()
    assert created["onboarding_status"] == "failed"
    assert f"bucket {s3_bucket_name!r} does not exist" in created["onboarding_error"]
    s3_client(moto_server).create_bucket(Bucket=s3_bucket_name)
    again = sqlite_portal.client.post(f"/api/v1/usecases/{created['id']}/onboard", headers=admin)
    assert again.status_code == 200 and again.json()["onboarding_status"] == "ready", again.text
    assert again.json()["onboarding_error"] is None
    _no_secret_anywhere(sqlite_portal, SECRET, json.dumps(created), again.text)


def test_unreachable_endpoint_fails_then_storage_is_fixed(
    sqlite_portal: PortalHarness, moto_server: str, s3_bucket_name: str
) -> None:
    s3_client(moto_server).create_bucket(Bucket=s3_bucket_name)
    sqlite_portal.make_user("root", admin=True)
    admin = sqlite_portal.login("root")
    nowhere = f"http://127.0.0.1:{free_port()}"
    created = sqlite_portal.client.post(
        "/api/v1/usecases", json={"name": "far", "s3": location(nowhere, s3_bucket_name)}, headers=admin
    ).json()
    assert created["onboarding_status"] == "failed"
    assert "not reachable" in created["onboarding_error"] and nowhere in created["onboarding_error"]
    moved = sqlite_portal.client.put(
        f"/api/v1/usecases/{created['id']}/storage",
        json={"s3": location(moto_server, s3_bucket_name)},
        headers=admin,
    )
    assert moved.status_code == 200 and moved.json()["onboarding_status"] == "ready", moved.text
    # Once onboarded, the location stays (its objects live there).
    refused = sqlite_portal.client.put(f"/api/v1/usecases/{created['id']}/storage", json={}, headers=admin)
    assert refused.status_code == 409
    _no_secret_anywhere(sqlite_portal, SECRET, json.dumps(created), moved.text, refused.text)


def test_wrong_credentials_fail_without_showing_them(
    sqlite_portal: PortalHarness, auth_s3: AuthS3, s3_bucket_name: str
) -> None:
    s3_client(auth_s3.endpoint, auth_s3.access_key_id, auth_s3.secret_access_key).create_bucket(
        Bucket=s3_bucket_name
    )
    sqlite_portal.make_user("root", admin=True)
    admin = sqlite_portal.login("root")
    wrong_secret = "Wrong-" + auth_s3.secret_access_key[6:]
    bad = location(auth_s3.endpoint, s3_bucket_name, key_id=auth_s3.access_key_id, secret=wrong_secret)
    created = sqlite_portal.client.post(
        "/api/v1/usecases", json={"name": "badkey", "s3": bad}, headers=admin
    ).json()
    assert created["onboarding_status"] == "failed"
    assert "refused access" in created["onboarding_error"]
    assert "access key" in created["onboarding_error"]
    unknown = location(auth_s3.endpoint, s3_bucket_name, key_id="AKIANOTAKEY0000000", secret=wrong_secret)
    second = sqlite_portal.client.post(
        "/api/v1/usecases", json={"name": "nokey", "s3": unknown}, headers=admin
    ).json()
    assert second["onboarding_status"] == "failed" and "refused access" in second["onboarding_error"]
    good = location(
        auth_s3.endpoint, s3_bucket_name, key_id=auth_s3.access_key_id, secret=auth_s3.secret_access_key
    )
    fixed = sqlite_portal.client.put(
        f"/api/v1/usecases/{created['id']}/storage", json={"s3": good}, headers=admin
    )
    assert fixed.json()["onboarding_status"] == "ready", fixed.text
    for secret in (wrong_secret, auth_s3.secret_access_key):
        _no_secret_anywhere(sqlite_portal, secret, json.dumps(created), json.dumps(second), fixed.text)
    assert auth_s3.access_key_id not in json.dumps(created) + json.dumps(second)


def test_data_location_on_s3_attached_read_only(
    sqlite_portal: PortalHarness, moto_server: str, s3_bucket_name: str, tmp_path: Path
) -> None:
    sqlite_portal.make_user("root", admin=True)
    admin = sqlite_portal.login("root")
    usecase_id = sqlite_portal.create_usecase(admin, "consumer")
    failed = sqlite_portal.client.post(
        "/api/v1/data-locations",
        json={"name": "shared", "s3": location(moto_server, s3_bucket_name)},
        headers=admin,
    ).json()
    assert failed["status"] == "failed" and "does not exist" in failed["status_error"]
    client = s3_client(moto_server)
    client.create_bucket(Bucket=s3_bucket_name)
    client.put_object(Bucket=s3_bucket_name, Key="tenants/line-1/datasets/a.jpg", Body=b"jpeg")
    tested = sqlite_portal.client.post(f"/api/v1/data-locations/{failed['id']}/test", headers=admin)
    assert tested.json()["status"] == "ready", tested.text
    attach = sqlite_portal.client.put(
        f"/api/v1/usecases/{usecase_id}/data-locations/{failed['id']}", headers=admin
    )
    assert attach.status_code == 200 and attach.json()["read_only"] is True
    from dda.portal.services import data_locations

    with sqlite_portal.portal.session() as session:
        store = data_locations.attached_store(session, sqlite_portal.portal, usecase_id, failed["id"])
    assert store.get_bytes("datasets/a.jpg") == b"jpeg"
    with pytest.raises(PermissionDenied):
        store.put_bytes("datasets/b.jpg", b"nope")
    with pytest.raises(PermissionDenied):
        store.delete("datasets/a.jpg")
    assert store.list("datasets/") == ["datasets/a.jpg"]
    _no_secret_anywhere(sqlite_portal, SECRET, json.dumps(failed), tested.text, attach.text)
