"""Object store: one interface, a local-folder and an S3 implementation, and a URI registry.

    from dda.core.storage import open_store
    store = open_store("s3://bucket/prefix")      # or file:///var/lib/dda/objects
    store.put_bytes("images/a.jpg", data, "image/jpeg")

``S3ObjectStore`` is imported on first use so that folder-only users do not load boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dda.core.storage.base import ObjectStore, Readable
from dda.core.storage.keys import MAX_KEY_BYTES, validate_key, validate_prefix
from dda.core.storage.local import LocalObjectStore
from dda.core.storage.registry import (
    StoreFactory,
    known_schemes,
    open_store,
    register_scheme,
    store_for_settings,
)

if TYPE_CHECKING:
    from dda.core.storage.s3 import S3ObjectStore

__all__ = [
    "MAX_KEY_BYTES",
    "LocalObjectStore",
    "ObjectStore",
    "Readable",
    "S3ObjectStore",
    "StoreFactory",
    "known_schemes",
    "open_store",
    "register_scheme",
    "store_for_settings",
    "validate_key",
    "validate_prefix",
]


def __getattr__(name: str) -> Any:
    if name == "S3ObjectStore":
        from dda.core.storage.s3 import S3ObjectStore

        return S3ObjectStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
