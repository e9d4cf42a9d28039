"""One conformance suite for every ObjectStore: a local folder and a real S3 API server (moto_server)."""

from __future__ import annotations

import hashlib
import tracemalloc
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from boto3.s3.transfer import TransferConfig

from dda.core.errors import InvalidInput, NotFound
from dda.core.settings import S3Settings
from dda.core.storage import LocalObjectStore, ObjectStore, S3ObjectStore
from dda.core.storage.s3 import MIB, default_transfer_config

# Large enough that holding it whole is clearly more than the S3 upload's bound of a few 5 MiB parts.
LARGE_OBJECT_BYTES = 64 * MIB
CHUNK_BYTES = 256 * 1024


def _s3_transfer_config() -> TransferConfig:
    # 5 MiB is S3's smallest multipart part; small parts keep the 20 MB upload's memory bound visible.
    config = default_transfer_config()
    config.multipart_threshold = 5 * MIB
    config.multipart_chunksize = 5 * MIB
    return config


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "objects")
        return
    s3_settings: S3Settings = request.getfixturevalue("s3_settings")
    bucket: str = request.getfixturevalue("s3_bucket_name")
    yield S3ObjectStore(
        bucket,
        "tenant/objects",
        s3=s3_settings,
        create_bucket=True,
        transfer_config=_s3_transfer_config(),
    )


class GeneratedStream:
    """A readable that produces ``total`` pseudo-random bytes on the fly, hashing what it hands out.

    Nothing holds the whole payload, so the memory a store uses to upload it is the store's own.
    """

    def __init__(self, total: int, fail_after: int | None = None) -> None:
        self.remaining = total
        self.fail_after = fail_after
        self.sent = 0
        self.digest = hashlib.sha256()
        self._block = hashlib.sha256(b"seed").digest() * (CHUNK_BYTES // 32)

    def read(self, size: int = -1) -> bytes:
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise ConnectionResetError("upload source broke off")
        size = CHUNK_BYTES if size is None or size < 0 else min(size, CHUNK_BYTES)
        size = min(size, self.remaining)
        offset = self.sent % len(self._block)
        chunk = (self._block[offset:] + self._block)[:size]
        self.remaining -= size
        self.sent += size
        self.digest.update(chunk)
        return chunk


def download(url: str) -> bytes:
    """Fetch a presigned URL the way a browser or another service would."""
    if url.startswith("file://"):
        with urllib.request.urlopen(url) as response:  # file:// is what a folder store hands out
            return bytes(response.read())
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    return response.content


# Round trips ---------------------------------------------------------------------------------------
def test_put_and_get_bytes_round_trip_and_overwrite(store: ObjectStore) -> None:
    store.put_bytes("images/a.jpg", b"first", content_type="image/jpeg")
    assert store.get_bytes("images/a.jpg") == b"first"
    store.put_bytes("images/a.jpg", b"second, longer")
    assert store.get_bytes("images/a.jpg") == b"second, longer"
    assert store.size("images/a.jpg") == len(b"second, longer")


def test_empty_object_is_an_object(store: ObjectStore) -> None:
    store.put_bytes("empty.bin", b"")
    assert store.exists("empty.bin")
    assert store.size("empty.bin") == 0
    assert store.get_bytes("empty.bin") == b""


def test_put_file_and_get_file(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(bytes(range(256)) * 100)
    store.put_file("files/source.bin", source)
    dest = tmp_path / "nested" / "folder" / "copy.bin"
    assert store.get_file("files/source.bin", dest) == dest
    assert dest.read_bytes() == source.read_bytes()
    assert not [p for p in dest.parent.iterdir() if p != dest], "no temporary files left behind"


def test_put_file_from_missing_path_is_not_found(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such file"):
        store.put_file("x.bin", tmp_path / "absent.bin")


def test_put_stream_and_open(store: ObjectStore) -> None:
    source = GeneratedStream(3 * CHUNK_BYTES + 17)
    store.put_stream("streams/small.bin", source)
    with store.open("streams/small.bin") as stream:
        head = stream.read(10)
        rest = stream.read()
    assert hashlib.sha256(head + rest).hexdigest() == source.digest.hexdigest()


def test_unicode_keys(store: ObjectStore) -> None:
    key = "linie-3/prüfung/кекс 01.jpg"
    store.put_bytes(key, b"cookie")
    assert store.list("linie-3/") == [key]
    assert store.get_bytes(key) == b"cookie"


# Listing and deleting ------------------------------------------------------------------------------
def test_list_is_sorted_recursive_and_filters_by_string_prefix(store: ObjectStore) -> None:
    assert store.list() == []
    for key in ("b.txt", "a/2.txt", "a/1.txt", "a/deep/er/3.txt", "ab.txt"):
        store.put_bytes(key, key.encode())
    assert store.list() == ["a/1.txt", "a/2.txt", "a/deep/er/3.txt", "ab.txt", "b.txt"]
    assert store.list("a/") == ["a/1.txt", "a/2.txt", "a/deep/er/3.txt"]
    assert store.list("a") == ["a/1.txt", "a/2.txt", "a/deep/er/3.txt", "ab.txt"]
    assert store.list("a/deep/e") == ["a/deep/er/3.txt"]
    assert store.list("missing/") == []


def test_delete_is_idempotent(store: ObjectStore) -> None:
    store.put_bytes("dir/x.bin", b"x")
    store.put_bytes("dir/y.bin", b"y")
    store.delete("dir/x.bin")
    store.delete("dir/x.bin")
    store.delete("never/existed.bin")
    assert not store.exists("dir/x.bin")
    assert store.list() == ["dir/y.bin"]
    with pytest.raises(NotFound):
        store.get_bytes("dir/x.bin")


def test_exists_and_size(store: ObjectStore) -> None:
    assert not store.exists("thing.bin")
    store.put_bytes("thing.bin", b"12345")
    assert store.exists("thing.bin")
    assert store.size("thing.bin") == 5
    assert not store.exists("thing")  # a prefix of a key is not a key


@pytest.mark.parametrize(
    "call",
    [
        lambda s, p: s.get_bytes("missing.bin"),
        lambda s, p: s.open("missing.bin"),
        lambda s, p: s.get_file("missing.bin", p / "out.bin"),
        lambda s, p: s.size("missing.bin"),
    ],
    ids=["get_bytes", "open", "get_file", "size"],
)
def test_missing_key_raises_not_found_with_a_fix(store: ObjectStore, tmp_path: Path, call: object) -> None:
    with pytest.raises(NotFound) as info:
        call(store, tmp_path)  # type: ignore[operator]
    assert "missing.bin" in info.value.message
    assert info.value.hint
    assert not (tmp_path / "out.bin").exists()


# Key validation ------------------------------------------------------------------------------------
BAD_KEYS = {
    "empty": "",
    "dotdot": "a/../b.txt",
    "leading-dotdot": "../b.txt",
    "dot-segment": "a/./b.txt",
    "absolute": "/etc/passwd",
    "backslash": "a\\b.txt",
    "nul": "a\x00b",
    "newline": "a\nb",
    "del": "a\x7fb",
    "double-slash": "a//b.txt",
    "trailing-slash": "a/b/",
    "drive-letter": "C:/windows/x",
    "too-long": "k/" + "x" * 1023,
    "reserved": ".dda-tmp/x",
}


@pytest.mark.parametrize("key", BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_bad_keys_are_refused_everywhere(store: ObjectStore, key: str, tmp_path: Path) -> None:
    calls: list[Callable[[], object]] = [
        lambda: store.put_bytes(key, b"x"),
        lambda: store.put_stream(key, GeneratedStream(10)),
        lambda: store.get_bytes(key),
        lambda: store.open(key),
        lambda: store.get_file(key, tmp_path / "out"),
        lambda: store.exists(key),
        lambda: store.size(key),
        lambda: store.delete(key),
        lambda: store.presigned_url(key),
    ]
    for call in calls:
        with pytest.raises(InvalidInput) as info:
            call()
        assert info.value.hint, f"{info.value.message} should say how to fix it"
    assert store.list() == []


def test_long_keys_up_to_the_limit_work(store: ObjectStore) -> None:
    key = "/".join(["s" * 99] * 8)  # 799 bytes: fits under S3's limit together with the test prefix
    store.put_bytes(key, b"deep")
    assert store.get_bytes(key) == b"deep"
    assert store.list() == [key]


@pytest.mark.parametrize("prefix", ["../", "/abs", "a\\b", "a/../"])
def test_bad_list_prefixes_are_refused(store: ObjectStore, prefix: str) -> None:
    with pytest.raises(InvalidInput):
        store.list(prefix)


# Large objects -------------------------------------------------------------------------------------
def test_large_object_streams_in_bounded_memory(store: ObjectStore) -> None:
    source = GeneratedStream(LARGE_OBJECT_BYTES)
    tracemalloc.start()
    try:
        store.put_stream("large/object.bin", source)
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        downloaded = hashlib.sha256()
        with store.open("large/object.bin") as stream:
            while chunk := stream.read(CHUNK_BYTES):
                downloaded.update(chunk)
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert source.sent == LARGE_OBJECT_BYTES
    assert store.size("large/object.bin") == LARGE_OBJECT_BYTES
    assert downloaded.hexdigest() == source.digest.hexdigest()
    # Holding the object would need 64 MiB; streaming needs a few parts (S3) or one copy buffer (folder).
    assert upload_peak < LARGE_OBJECT_BYTES * 0.5, f"upload peaked at {upload_peak / MIB:.1f} MiB"
    assert download_peak < LARGE_OBJECT_BYTES * 0.1, f"download peaked at {download_peak / MIB:.1f} MiB"


def test_failed_stream_leaves_the_old_object_intact(store: ObjectStore) -> None:
    store.put_bytes("model.onnx", b"old model")
    with pytest.raises(ConnectionResetError):
        # Breaks off after the first 5 MiB part, i.e. in the middle of an S3 multipart upload.
        store.put_stream("model.onnx", GeneratedStream(12 * MIB, fail_after=6 * MIB))
    assert store.get_bytes("model.onnx") == b"old model"
    assert store.list() == ["model.onnx"]


# Presigned URLs ------------------------------------------------------------------------------------
def test_presigned_url_downloads_the_object(store: ObjectStore) -> None:
    payload = b"\xff\xd8\xff cookie bytes"
    store.put_bytes("share/cookie.jpg", payload, content_type="image/jpeg")
    url = store.presigned_url("share/cookie.jpg", expires_s=120)
    assert download(url) == payload


@pytest.mark.parametrize("expires", [0, -5, 8 * 24 * 3600])
def test_presigned_url_refuses_bad_lifetimes(store: ObjectStore, expires: int) -> None:
    store.put_bytes("x.bin", b"x")
    with pytest.raises(InvalidInput, match="expires_s"):
        store.presigned_url("x.bin", expires_s=expires)
