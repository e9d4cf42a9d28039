"""open_store / register_scheme / store_for_settings: URIs to stores, for both built-in schemes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import SplitResult

import pytest

from dda.core.errors import InvalidInput
from dda.core.settings import S3Settings, Settings, get_settings
from dda.core.storage import (
    LocalObjectStore,
    ObjectStore,
    S3ObjectStore,
    known_schemes,
    open_store,
    register_scheme,
    registry,
    store_for_settings,
)


def test_file_uri_opens_a_folder_store(tmp_path: Path) -> None:
    folder = tmp_path / "my objects"
    store = open_store(folder.as_uri())  # as_uri percent-encodes the space
    assert isinstance(store, LocalObjectStore)
    assert store.root == folder
    store.put_bytes("k", b"v")
    assert (folder / "k").read_bytes() == b"v"
    assert open_store(f"file://localhost{folder}").list() == ["k"]
    assert open_store(store.url).get_bytes("k") == b"v"


def test_file_uri_create_makes_the_folder(tmp_path: Path) -> None:
    open_store((tmp_path / "new").as_uri(), create=True)
    assert (tmp_path / "new").is_dir()


def test_s3_uri_opens_a_bucket_store(s3_settings: S3Settings, s3_bucket_name: str) -> None:
    settings = Settings(s3=s3_settings)
    store = open_store(f"s3://{s3_bucket_name}/site/line-1", settings, create=True)
    assert isinstance(store, S3ObjectStore)
    assert (store.bucket, store.prefix, store.url) == (
        s3_bucket_name,
        "site/line-1",
        f"s3://{s3_bucket_name}/site/line-1",
    )
    store.put_bytes("a.jpg", b"jpeg")
    assert open_store(f"s3://{s3_bucket_name}", settings).list() == ["site/line-1/a.jpg"]
    assert open_store(store.url, settings).get_bytes("a.jpg") == b"jpeg"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/x", "unknown object store scheme 'ftp'"),
        ("/var/lib/dda", "has no scheme"),
        ("objects", "has no scheme"),
        ("file://otherhost/data", "names the host"),
        ("file://relative/path", "names the host"),
        ("s3://", "names no bucket"),
        ("s3://key:secret@bucket/x", "must not carry credentials"),
        ("s3://Bad_Bucket/x", "not a valid S3 bucket name"),
        ("s3://bucket/../x", "'..'"),
        ("file:///data?x=1", "query"),
    ],
)
def test_bad_uris_are_refused_with_a_fix(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("?", r"\?").replace(".", r"\.")) as info:
        open_store(url)
    assert info.value.hint


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as info:
        open_store("gs://bucket")
    assert info.value.hint == "known schemes: file, s3"
    assert known_schemes() == ["file", "s3"]


def test_register_scheme_adds_a_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))

    def open_archive(url: SplitResult, settings: Settings, *, create: bool) -> ObjectStore:
        return LocalObjectStore(tmp_path / "archives" / url.netloc, create=create)

    register_scheme("archive", open_archive)
    store = open_store("ARCHIVE://2024", create=True)
    assert isinstance(store, LocalObjectStore)
    assert store.root == tmp_path / "archives" / "2024"
    assert "archive" in known_schemes()
    with pytest.raises(InvalidInput, match="already registered"):
        register_scheme("archive", open_archive)
    register_scheme("archive", open_archive, replace=True)
    with pytest.raises(InvalidInput, match="not a valid URI scheme"):
        register_scheme("s3://", open_archive)


def test_store_for_settings_defaults_to_the_data_dir(isolated_settings: Path) -> None:
    store = store_for_settings()
    assert isinstance(store, LocalObjectStore)
    assert store.root == (isolated_settings / "objects").resolve()
    # What `dda doctor` does on a fresh install: must succeed without any object stored.
    settings = get_settings()
    assert open_store(settings.resolved_object_store_url, settings).list("") == []


def test_store_for_settings_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, s3_settings: S3Settings, s3_bucket_name: str
) -> None:
    monkeypatch.setenv("DDA_OBJECT_STORE_URL", f"s3://{s3_bucket_name}/env")
    monkeypatch.setenv("DDA_S3__ENDPOINT_URL", str(s3_settings.endpoint_url))
    monkeypatch.setenv("DDA_S3__ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("DDA_S3__SECRET_ACCESS_KEY", "testing")
    get_settings.cache_clear()
    store = store_for_settings(create=True)
    assert isinstance(store, S3ObjectStore)
    assert store.endpoint == s3_settings.endpoint_url
    store.put_bytes("x", b"1")
    assert store.list() == ["x"]
