"""Turn a store URI into an :class:`ObjectStore`: ``file:///abs/path`` or ``s3://bucket/prefix``.

Other schemes can be added with :func:`register_scheme` (e.g. a plugin for another backend).
"""

from __future__ import annotations

import re
from typing import Protocol
from urllib.parse import SplitResult, unquote, urlsplit

from dda.core.errors import InvalidInput
from dda.core.settings import Settings, get_settings
from dda.core.storage.base import ObjectStore


class StoreFactory(Protocol):
    """Builds a store from a parsed URI. ``create`` asks it to create the folder/bucket if missing."""

    def __call__(self, url: SplitResult, settings: Settings, *, create: bool) -> ObjectStore: ...


_FACTORIES: dict[str, StoreFactory] = {}
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")  # RFC 3986


def register_scheme(scheme: str, factory: StoreFactory, *, replace: bool = False) -> None:
    """Make ``open_store`` hand URIs with ``scheme://`` to ``factory``."""
    name = scheme.lower()
    if not _SCHEME.match(name):
        raise InvalidInput(
            f"{scheme!r} is not a valid URI scheme",
            hint="start with a letter, then letters, digits, '+', '-' or '.' (no '://')",
        )
    if name in _FACTORIES and not replace:
        raise InvalidInput(
            f"object store scheme {name!r} is already registered",
            hint="pass replace=True to override it on purpose",
        )
    _FACTORIES[name] = factory


def known_schemes() -> list[str]:
    return sorted(_FACTORIES)


def open_store(url: str, settings: Settings | None = None, *, create: bool = False) -> ObjectStore:
    """The store a URI names. ``settings`` defaults to :func:`get_settings` (S3 endpoint, keys)."""
    if not isinstance(url, str) or "://" not in url:
        raise InvalidInput(
            f"object store URL {url!r} has no scheme",
            hint=f"use one of {', '.join(s + '://' for s in known_schemes())}, e.g. file:///var/lib/dda/objects",
        )
    parsed = urlsplit(url)
    factory = _FACTORIES.get(parsed.scheme.lower())
    if factory is None:
        raise InvalidInput(
            f"unknown object store scheme {parsed.scheme!r} in {url!r}",
            hint=f"known schemes: {', '.join(known_schemes())}",
        )
    if parsed.query or parsed.fragment:
        raise InvalidInput(
            f"object store URL {url!r} has a '?query' or '#fragment', which DDA does not read",
            hint="remove it; S3 connection options go in DDA_S3__* settings",
        )
    return factory(parsed, settings or get_settings(), create=create)


def store_for_settings(settings: Settings | None = None, *, create: bool = False) -> ObjectStore:
    """The store configured by ``DDA_OBJECT_STORE_URL`` (default: a folder under the data dir)."""
    settings = settings or get_settings()
    return open_store(settings.resolved_object_store_url, settings, create=create)


def _open_file_store(url: SplitResult, settings: Settings, *, create: bool) -> ObjectStore:
    from dda.core.storage.local import LocalObjectStore

    if url.netloc not in ("", "localhost"):
        raise InvalidInput(
            f"file URL {url.geturl()!r} names the host {url.netloc!r}; only local folders are supported",
            hint="use three slashes for a local absolute path: file:///path/to/folder",
        )
    path = unquote(url.path)
    if not path.startswith("/"):
        raise InvalidInput(
            f"file URL {url.geturl()!r} does not hold an absolute path",
            hint="use file:///absolute/path/to/folder",
        )
    return LocalObjectStore(path, create=create)


def _open_s3_store(url: SplitResult, settings: Settings, *, create: bool) -> ObjectStore:
    from dda.core.storage.s3 import S3ObjectStore

    if "@" in url.netloc:
        raise InvalidInput(
            "S3 URLs must not carry credentials",
            hint="set DDA_S3__ACCESS_KEY_ID and DDA_S3__SECRET_ACCESS_KEY instead",
        )
    if not url.netloc:
        raise InvalidInput(f"S3 URL {url.geturl()!r} names no bucket", hint="use s3://bucket/optional/prefix")
    return S3ObjectStore(url.netloc, unquote(url.path), s3=settings.s3, create_bucket=create)


register_scheme("file", _open_file_store)
register_scheme("s3", _open_s3_store)
