"""Where each use case's objects live, and the credentials for other S3 API servers (encrypted at rest).

A use case on the default store gets the prefix ``usecases/<id>/`` of the portal's store; one on
its own bucket gets that bucket/prefix with its own keys. Either way the store object handed to
services is rooted there, and every key is validated by core's key rules, so a key such as
``../other`` or ``/etc/passwd`` cannot reach another tenant's objects.
"""

from __future__ import annotations

import base64
import contextlib
from typing import BinaryIO

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from dda.core.errors import DDAError, InvalidInput, NotFound, PermissionDenied, Unavailable
from dda.core.settings import S3Settings
from dda.core.storage import ObjectStore, open_store
from dda.core.storage.base import Readable
from dda.core.storage.s3 import S3ObjectStore
from dda.portal.context import Portal
from dda.portal.db.tenancy import StorageColumns
from dda.portal.schemas.usecases import S3Location

LAYOUT = ("datasets", "labels", "models", "packages", "results")


def _fernet(portal: Portal) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(portal.derived_key("storage-credentials")))


def encrypt_secret(portal: Portal, secret: str) -> str:
    return _fernet(portal).encrypt(secret.encode()).decode()


def decrypt_secret(portal: Portal, token: str) -> str:
    try:
        return _fernet(portal).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise InvalidInput(
            "stored storage credentials cannot be decrypted with this portal's secret key",
            hint="DDA_SECRET_KEY changed since they were saved: enter the credentials again",
        ) from exc


def store_for(portal: Portal, owner_kind: str, row: StorageColumns, row_id: str) -> ObjectStore:
    """The store rooted at a use case's (``owner_kind='usecases'``) or data location's objects."""
    if row.storage_kind == "s3":
        if not row.s3_bucket:
            raise InvalidInput("the storage location names no bucket", hint="edit the location")
        secret = decrypt_secret(portal, row.s3_secret_encrypted) if row.s3_secret_encrypted else None
        s3 = S3Settings(
            endpoint_url=row.s3_endpoint_url,
            region=row.s3_region or "us-east-1",
            access_key_id=row.s3_access_key_id,
            secret_access_key=SecretStr(secret) if secret else None,
        )
        return S3ObjectStore(row.s3_bucket, row.storage_prefix, s3=s3, connect_timeout_s=3, max_attempts=2)
    base = portal.settings.portal_object_store_url.rstrip("/")
    return open_store(f"{base}/{owner_kind}/{row_id}", portal.settings, create=True)


def describe(row: StorageColumns, row_id: str, owner_kind: str) -> str:
    """A display form of the location (never the credentials)."""
    if row.storage_kind == "s3":
        where = f"s3://{row.s3_bucket}/{row.storage_prefix}".rstrip("/")
        return f"{where} at {row.s3_endpoint_url}" if row.s3_endpoint_url else where
    return f"default store: {owner_kind}/{row_id}/"


def apply_location(portal: Portal, row: StorageColumns, s3: S3Location | None) -> None:
    """Point ``row`` at ``s3`` (None: the default store), the secret encrypted with the portal's key."""
    if s3 is None:
        row.storage_kind, row.storage_prefix = "default", ""
        row.s3_endpoint_url = row.s3_bucket = row.s3_region = None
        row.s3_access_key_id = row.s3_secret_encrypted = None
        return
    row.storage_kind = "s3"
    row.s3_endpoint_url = s3.endpoint_url
    row.s3_bucket = s3.bucket
    row.s3_region = s3.region
    row.storage_prefix = s3.prefix.strip("/")
    row.s3_access_key_id = s3.access_key_id
    secret = s3.secret_access_key.get_secret_value() if s3.secret_access_key is not None else None
    row.s3_secret_encrypted = encrypt_secret(portal, secret) if secret else None


def failure_reason(portal: Portal, row: StorageColumns, exc: BaseException) -> str:
    """Why a location failed its check, in words an admin can act on; never a credential."""
    where = describe(row, "", "").removeprefix("default store: ")
    if isinstance(exc, NotFound) and row.storage_kind == "s3":
        reason = f"the bucket {row.s3_bucket!r} does not exist on the S3 server (create it or fix the name)"
    elif isinstance(exc, PermissionDenied):
        reason = f"the S3 server refused access to {where} (check the access key, secret and bucket policy)"
    elif isinstance(exc, Unavailable) and row.storage_kind == "s3":
        reason = f"the S3 server at {row.s3_endpoint_url or 'AWS'} is not reachable or failed (check the URL)"
    elif isinstance(exc, DDAError):
        reason = exc.message
    else:
        reason = f"the storage location is not reachable or not writable ({type(exc).__name__})"
    return redact(portal, row, reason)[:1000]


def redact(portal: Portal, row: StorageColumns, text: str) -> str:
    """``text`` with the location's secret and access key id masked (belt and braces)."""
    secrets_ = [row.s3_access_key_id or ""]
    if row.s3_secret_encrypted:
        with contextlib.suppress(InvalidInput):
            secrets_.append(decrypt_secret(portal, row.s3_secret_encrypted))
    for value in secrets_:
        if len(value) >= 4:
            text = text.replace(value, "***")
    return text


class ReadOnlyStore(ObjectStore):
    """A view of another store that refuses every write (a shared data location as a use case sees it)."""

    def __init__(self, inner: ObjectStore) -> None:
        self._inner = inner
        self.url = inner.url

    def _refuse(self, key: str) -> PermissionDenied:
        return PermissionDenied(
            f"cannot write {key!r}: this location is attached read-only",
            hint="copy what you need into the use case's own storage",
        )

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        raise self._refuse(key)

    def put_stream(self, key: str, fileobj: Readable, content_type: str | None = None) -> None:
        raise self._refuse(key)

    def delete(self, key: str) -> None:
        raise self._refuse(key)

    def open(self, key: str) -> BinaryIO:
        return self._inner.open(key)

    def list(self, prefix: str = "") -> list[str]:
        return self._inner.list(prefix)

    def exists(self, key: str) -> bool:
        return self._inner.exists(key)

    def size(self, key: str) -> int:
        return self._inner.size(key)

    def presigned_url(self, key: str, expires_s: int = 3600) -> str:
        return self._inner.presigned_url(key, expires_s)
