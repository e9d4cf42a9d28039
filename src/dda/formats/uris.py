"""Turning the URIs a manifest names into local files.

A manifest names images and masks as ``s3://bucket/key``, ``file://`` URIs, absolute paths or
paths relative to the manifest. ``--map PREFIX=LOCATION`` rewrites a URI prefix first (a labeling
job's bucket -> the folder where the files really are); what is still ``s3://`` afterwards is
fetched through the object store into a cache under the data dir.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from dda.core.errors import DDAError, InvalidInput, NotFound, Unavailable
from dda.core.settings import Settings, get_settings

MAP_HINT = "pass --map PREFIX=LOCATION, e.g. --map s3://my-bucket/images/=/data/images/"


class FileSource(Protocol):
    """What the resolver needs from an object store: copy one key to a local file."""

    def get_file(self, key: str, dest: Path) -> Any: ...


def parse_mappings(items: Iterable[str]) -> dict[str, str]:
    """Parse ``PREFIX=LOCATION`` strings (the ``--map`` option) into a dict."""
    mappings: dict[str, str] = {}
    for item in items:
        prefix, sep, location = item.partition("=")
        if not sep or not prefix.strip() or not location.strip():
            raise InvalidInput(
                f"--map value {item!r} is not PREFIX=LOCATION",
                hint="write e.g. --map s3://bucket/cookies/=/data/cookies/",
            )
        mappings[prefix.strip()] = location.strip()
    return mappings


def unmatched_mappings(mappings: Mapping[str, str], refs: Iterable[str]) -> list[tuple[str, str | None]]:
    """``(prefix, likely prefix)`` for each ``--map`` prefix that starts none of ``refs``; the likely
    prefix is the folder the references share (None when they share none)."""
    refs = [r for r in refs if isinstance(r, str)]
    unmatched = [p for p in mappings if not any(r.startswith(p) for r in refs)]
    if not unmatched:
        return []
    common = os.path.commonprefix(refs) if refs else ""  # noqa: RUF071 - a URI prefix, not a path
    cut = common.rfind("/")
    suggestion = common[: cut + 1] if cut >= 0 else None
    if suggestion in ("", "/") or (suggestion or "").endswith("://"):
        suggestion = None
    return [(p, suggestion) for p in unmatched]


def is_uri(value: str) -> bool:
    scheme = urlparse(value).scheme
    return len(scheme) > 1  # a one-letter "scheme" is a Windows drive letter


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b.jpg`` -> (``bucket``, ``a/b.jpg``); refuses keys that climb out."""
    parsed = urlparse(uri)
    bucket, key = parsed.netloc, unquote(parsed.path.lstrip("/"))
    if not bucket or not key:
        raise InvalidInput(f"{uri!r} is not s3://bucket/key", hint="name the bucket and the object key")
    parts = PurePosixPath(key).parts
    if ".." in parts or key.startswith("/") or "\\" in key:
        raise InvalidInput(f"object key in {uri!r} is unsafe", hint="use a key without '..' or backslashes")
    return bucket, key


class UriResolver:
    """Resolve manifest URIs to local paths, downloading ``s3://`` objects once into a cache."""

    def __init__(
        self,
        mappings: Mapping[str, str] | None = None,
        *,
        base_dir: Path | None = None,
        store: FileSource | None = None,
        cache_dir: Path | None = None,
        settings: Settings | None = None,
    ) -> None:
        # Longest prefix first, so a specific mapping wins over a general one.
        self.mappings = sorted((mappings or {}).items(), key=lambda kv: len(kv[0]), reverse=True)
        self.base_dir = Path(base_dir) if base_dir else Path.cwd()
        self._store = store
        self._settings = settings
        self._cache_dir = cache_dir
        self._stores: dict[str, FileSource] = {}
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = get_settings()
        return self._settings

    @property
    def cache_dir(self) -> Path:
        return self._cache_dir or self.settings.data_dir / "cache" / "objects"

    def rewrite(self, uri: str) -> str:
        """Apply the longest matching ``--map`` prefix, if any."""
        for prefix, location in self.mappings:
            if uri.startswith(prefix):
                rest = uri[len(prefix) :]
                if not rest:
                    return location
                return location.rstrip("/\\") + "/" + rest.lstrip("/")
        return uri

    def resolve(self, uri: str) -> Path:
        """The local path of ``uri``; raises NotFound with a fix when it cannot be had."""
        if not isinstance(uri, str) or not uri.strip():
            raise InvalidInput("empty image or mask reference", hint="give a path or an s3:// URI")
        target = self.rewrite(uri.strip())
        scheme = urlparse(target).scheme if is_uri(target) else ""
        if scheme == "s3":
            return self._fetch_s3(uri, target)
        if scheme == "file":
            path = Path(unquote(urlparse(target).path))
        elif scheme:
            raise InvalidInput(
                f"{uri!r} uses the unsupported scheme {scheme}://",
                hint=f"copy the files locally and {MAP_HINT}",
            )
        else:
            path = Path(target).expanduser()
            if not path.is_absolute():
                path = (self.base_dir / path).resolve()
        if not path.is_file():
            mapped = f" (mapped to {path})" if target != uri else ""
            raise NotFound(f"{uri}{mapped} does not exist", hint=self._not_found_hint(uri, target))
        return path

    def _not_found_hint(self, uri: str, target: str) -> str:
        if target != uri:
            return "check the LOCATION part of --map: the rest of the URI is appended to it"
        return f"check the path, or {MAP_HINT}"

    def _fetch_s3(self, uri: str, target: str) -> Path:
        bucket, key = split_s3_uri(target)
        dest = (self.cache_dir / bucket / key).resolve()
        if not dest.is_relative_to(self.cache_dir.resolve()):
            raise InvalidInput(f"object key in {uri!r} is unsafe", hint="use a key without '..'")
        if dest.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".part")
        try:
            self._store_for(bucket).get_file(key, partial)
        except DDAError as exc:
            partial.unlink(missing_ok=True)
            raise NotFound(f"{uri} could not be fetched: {exc.message}", hint=self._s3_hint(exc)) from exc
        except Exception as exc:  # any store backend (boto3, HTTP) fails in its own types
            partial.unlink(missing_ok=True)
            raise NotFound(f"{uri} could not be fetched: {exc}", hint=self._s3_hint(None)) from exc
        if not partial.is_file():
            raise NotFound(f"{uri} could not be fetched: the store wrote nothing", hint=self._s3_hint(None))
        partial.replace(dest)
        return dest

    @staticmethod
    def _s3_hint(exc: DDAError | None) -> str:
        local = f"if the files are on this machine, {MAP_HINT}"
        if exc is not None and exc.hint:
            return f"{exc.hint}; or, {local}"
        return f"{local}; else configure DDA_S3__* (endpoint, keys) for the bucket"

    def _store_for(self, bucket: str) -> FileSource:
        if self._store is not None:
            return self._store
        with self._lock:
            if bucket not in self._stores:
                self._stores[bucket] = _open_bucket(bucket, self.settings)
            return self._stores[bucket]


def _open_bucket(bucket: str, settings: Settings) -> FileSource:
    try:
        from dda.core.storage import open_store  # type: ignore[attr-defined,unused-ignore]
    except ImportError as exc:
        raise Unavailable(
            "the object store module (dda.core.storage) is not available in this installation",
            hint=MAP_HINT,
        ) from exc
    store: FileSource = open_store(f"s3://{bucket}", settings)
    return store
