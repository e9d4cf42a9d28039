"""Resolving manifest URIs: --map prefixes, relative paths, file:// and s3:// through a real S3 API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dda.core.errors import InvalidInput, NotFound
from dda.core.settings import S3Settings, get_settings
from dda.core.storage import LocalObjectStore, S3ObjectStore
from dda.formats.loader import load_dataset
from dda.formats.uris import UriResolver, parse_mappings, split_s3_uri
from dda.formats.validate import validate_manifest
from tests.formats.conftest import make_image


def test_parse_mappings_and_refuse_malformed_ones() -> None:
    assert parse_mappings(["s3://b/p/=/data/p/", "a=b=c"]) == {"s3://b/p/": "/data/p/", "a": "b=c"}
    for bad in ("no-equals", "=/data", "s3://b/="):
        with pytest.raises(InvalidInput, match="PREFIX=LOCATION"):
            parse_mappings([bad])


def test_longest_prefix_wins_and_slashes_are_joined_once(tmp_path: Path) -> None:
    resolver = UriResolver({"s3://b/": "/general", "s3://b/special/": str(tmp_path) + "/"}, base_dir=tmp_path)
    assert resolver.rewrite("s3://b/special/x/y.jpg") == f"{tmp_path}/x/y.jpg"
    assert resolver.rewrite("s3://b/other.jpg") == "/general/other.jpg"
    assert resolver.rewrite("s3://c/other.jpg") == "s3://c/other.jpg"
    assert UriResolver({"s3://b/img": "/data/img"}).rewrite("s3://b/img/a.jpg") == "/data/img/a.jpg"


def test_local_relative_file_uri_and_missing_paths(tmp_path: Path) -> None:
    image = make_image(tmp_path / "sub" / "a.png")
    resolver = UriResolver(base_dir=tmp_path)
    assert resolver.resolve("sub/a.png") == image
    assert resolver.resolve(str(image)) == image
    assert resolver.resolve(image.as_uri()) == image
    with pytest.raises(NotFound, match="does not exist") as missing:
        resolver.resolve("sub/b.png")
    assert "--map" in (missing.value.hint or "")
    mapped = UriResolver({"s3://bucket/": str(tmp_path / "nowhere")})
    with pytest.raises(NotFound, match="mapped to") as wrong_map:
        mapped.resolve("s3://bucket/a.png")
    assert "LOCATION" in (wrong_map.value.hint or "")
    with pytest.raises(InvalidInput, match="unsupported scheme"):
        resolver.resolve("https://example.com/a.png")


def test_unsafe_s3_keys_are_refused() -> None:
    assert split_s3_uri("s3://bucket/a/b.jpg") == ("bucket", "a/b.jpg")
    for bad in ("s3://bucket/../etc/passwd", "s3://bucket/a/../../b", "s3:///key", "s3://bucket/"):
        with pytest.raises(InvalidInput):
            split_s3_uri(bad)


def test_s3_objects_come_through_a_given_store_and_are_cached(tmp_path: Path) -> None:
    """A local-folder store stands in for any store here; the S3 test below uses a real S3 API."""
    store = LocalObjectStore(tmp_path / "objects", create=True)
    store.put_file("imgs/a.png", make_image(tmp_path / "a.png"))
    resolver = UriResolver(store=store, cache_dir=tmp_path / "cache")
    path = resolver.resolve("s3://any-bucket/imgs/a.png")
    assert path == (tmp_path / "cache" / "any-bucket" / "imgs" / "a.png").resolve()
    assert path.read_bytes() == (tmp_path / "a.png").read_bytes()
    store.delete("imgs/a.png")
    assert resolver.resolve("s3://any-bucket/imgs/a.png") == path  # served from the cache
    with pytest.raises(NotFound, match="could not be fetched"):
        resolver.resolve("s3://any-bucket/imgs/missing.png")
    assert not list((tmp_path / "cache").rglob("*.part"))


@pytest.fixture
def s3_env(s3_settings: S3Settings, monkeypatch: pytest.MonkeyPatch) -> S3Settings:
    monkeypatch.setenv("DDA_S3__ENDPOINT_URL", str(s3_settings.endpoint_url))
    monkeypatch.setenv("DDA_S3__ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("DDA_S3__SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("DDA_S3__ADDRESSING_STYLE", "path")
    get_settings.cache_clear()
    return s3_settings


def test_manifest_with_s3_uris_loads_from_a_real_s3_api(
    synthetic_cookies: Path, s3_env: S3Settings, s3_bucket_name: str, tmp_path: Path
) -> None:
    """Upload the synthetic set to moto_server and load a manifest that names s3:// URIs."""
    bucket = S3ObjectStore(s3_bucket_name, s3=s3_env, create_bucket=True)
    root = synthetic_cookies.parent
    lines = []
    for text in synthetic_cookies.read_text().splitlines():
        record = json.loads(text)
        for key in ("source-ref", "synthetic-cookie-segmentation-ref"):
            bucket.put_file(f"set/{record[key]}", root / record[key])
            record[key] = f"s3://{s3_bucket_name}/set/{record[key]}"
        lines.append(json.dumps(record))
    manifest = tmp_path / "s3.manifest"
    manifest.write_text("\n".join(lines) + "\n")
    report = validate_manifest(manifest, progress=False)
    assert report.ok, [p.format() for p in report.problems.items]
    dataset = load_dataset(manifest, progress=False)
    local = load_dataset(synthetic_cookies, progress=False)
    assert [s.label for s in dataset.samples] == [s.label for s in local.samples]
    for remote, here in zip(dataset.samples, local.samples, strict=True):
        assert Path(remote.image_path).is_relative_to(get_settings().data_dir / "cache" / "objects")
        assert Path(remote.image_path).read_bytes() == Path(here.image_path).read_bytes()
        assert remote.mask_path == here.mask_path  # same content -> same cached class-id mask
        assert remote.source_ref.startswith(f"s3://{s3_bucket_name}/set/images/")
    bucket.delete("set/images/cookie-0003.png")
    missing = manifest.read_text().replace("cookie-0003.png", "cookie-9999.png")
    manifest.write_text(missing)
    broken = validate_manifest(manifest, progress=False)
    assert [p.line for p in broken.problems.errors] == [4]
    assert "could not be fetched" in broken.problems.errors[0].message
