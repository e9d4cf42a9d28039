"""What only the S3 store does, against the real S3 API server of the test session (moto_server)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from dda.core.errors import InvalidInput, NotFound, Unavailable
from dda.core.settings import S3Settings
from dda.core.storage import S3ObjectStore
from tests.core.conftest import free_port


def test_missing_bucket_is_not_found_unless_creation_is_asked(
    s3_settings: S3Settings, s3_bucket_name: str
) -> None:
    store = S3ObjectStore(s3_bucket_name, s3=s3_settings)
    with pytest.raises(NotFound, match="does not exist") as info:
        store.list()
    assert info.value.hint is not None and "create_bucket=True" in info.value.hint
    created = S3ObjectStore(s3_bucket_name, s3=s3_settings, create_bucket=True)
    created.create_bucket()  # a second time is fine
    assert store.list() == []


def test_bucket_in_another_region_is_created(s3_settings: S3Settings, s3_bucket_name: str) -> None:
    settings = s3_settings.model_copy(update={"region": "eu-central-1"})
    store = S3ObjectStore(s3_bucket_name, s3=settings, create_bucket=True)
    store.put_bytes("x", b"1")
    assert store.list() == ["x"]


@pytest.mark.parametrize("bucket", ["", "ab", "Upper", "has_underscore", "-dash", "a..b", "x" * 64])
def test_invalid_bucket_names_are_refused(s3_settings: S3Settings, bucket: str) -> None:
    with pytest.raises(InvalidInput, match="bucket name"):
        S3ObjectStore(bucket, s3=s3_settings)


def test_prefixes_isolate_stores_in_one_bucket(s3_settings: S3Settings, s3_bucket_name: str) -> None:
    station_a = S3ObjectStore(s3_bucket_name, "stations/a", s3=s3_settings, create_bucket=True)
    station_b = S3ObjectStore(s3_bucket_name, "/stations/b/", s3=s3_settings)
    whole = S3ObjectStore(s3_bucket_name, s3=s3_settings)
    station_a.put_bytes("img.jpg", b"a")
    station_b.put_bytes("img.jpg", b"b")
    assert station_a.list() == ["img.jpg"]
    assert station_b.get_bytes("img.jpg") == b"b"
    assert whole.list() == ["stations/a/img.jpg", "stations/b/img.jpg"]
    assert station_b.url == f"s3://{s3_bucket_name}/stations/b"


def test_key_too_long_under_the_store_prefix_is_refused(s3_settings: S3Settings, s3_bucket_name: str) -> None:
    store = S3ObjectStore(s3_bucket_name, "p" * 100, s3=s3_settings, create_bucket=True)
    with pytest.raises(InvalidInput, match="store prefix"):
        store.put_bytes("/".join(["k" * 199] * 5), b"x")  # 999 bytes: valid alone, too long with the prefix


def test_presigned_url_serves_content_type_and_expires_flag(
    s3_settings: S3Settings, s3_bucket_name: str
) -> None:
    store = S3ObjectStore(s3_bucket_name, s3=s3_settings, create_bucket=True)
    store.put_bytes("cookie.png", b"\x89PNG...", content_type="image/png")
    url = store.presigned_url("cookie.png", expires_s=60)
    assert "X-Amz-Expires=60" in url
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    tampered = url.replace("cookie.png", "other.png")
    assert httpx.get(tampered, timeout=30).status_code in (403, 404)


def test_unreachable_endpoint_is_unavailable_and_names_it() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = S3Settings(endpoint_url=endpoint, access_key_id="k", secret_access_key=SecretStr("s"))
    store = S3ObjectStore("dda-nowhere", s3=settings, max_attempts=1, connect_timeout_s=2)
    for call in (store.list, lambda: store.put_bytes("x", b"1"), lambda: store.get_bytes("x")):
        with pytest.raises(Unavailable) as info:
            call()
        assert endpoint in info.value.message
        assert info.value.hint is not None and "DDA_S3__ENDPOINT_URL" in info.value.hint


def test_missing_credentials_are_reported_with_a_fix(
    s3_settings: S3Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = s3_settings.model_copy(update={"access_key_id": None, "secret_access_key": None})
    store = S3ObjectStore("dda-no-creds", s3=settings)
    with pytest.raises(Unavailable, match="no S3 credentials") as info:
        store.list()
    assert info.value.hint is not None and "DDA_S3__ACCESS_KEY_ID" in info.value.hint
