"""Object store on any S3 API (AWS S3, MinIO, SeaweedFS, moto) through boto3.

Key ``a/b.jpg`` in a store opened on ``s3://bucket/some/prefix`` is the S3 object
``some/prefix/a/b.jpg`` in ``bucket``. Connection details come from :class:`S3Settings`
(``DDA_S3__ENDPOINT_URL``, ``DDA_S3__ACCESS_KEY_ID`` ...).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, cast

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from dda.core.errors import DDAError, InvalidInput, NotFound, PermissionDenied, Unavailable
from dda.core.settings import S3Settings, get_settings
from dda.core.storage.base import ObjectStore, Readable, check_expiry
from dda.core.storage.keys import MAX_KEY_BYTES, join_key, validate_key, validate_prefix

MIB = 1024 * 1024
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MISSING_KEY_CODES = {"NoSuchKey", "404", "NotFound"}
_DENIED_CODES = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"}


def default_transfer_config() -> TransferConfig:
    """Multipart transfers whose memory use is bounded by chunk size x chunks in flight, not object size."""
    config = TransferConfig(
        multipart_threshold=8 * MIB,
        multipart_chunksize=8 * MIB,
        max_concurrency=4,
        use_threads=True,
        preferred_transfer_client="classic",
    )
    # Non-seekable uploads buffer whole chunks; cap how many wait in memory (s3transfer default 10).
    config.max_in_memory_upload_chunks = 2
    return config


class S3ObjectStore(ObjectStore):
    """Objects in ``bucket`` under ``prefix``. ``create_bucket=True`` creates a missing bucket."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        s3: S3Settings | None = None,
        create_bucket: bool = False,
        max_attempts: int = 3,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        transfer_config: TransferConfig | None = None,
    ) -> None:
        self.bucket = _validate_bucket(bucket)
        stripped = prefix.strip("/") if isinstance(prefix, str) else prefix
        self.prefix = validate_key(stripped) if stripped else ""
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        settings = s3 or get_settings().s3
        self.endpoint = settings.endpoint_url or f"AWS S3 in {settings.region}"
        self._region = settings.region
        self._transfer = transfer_config or default_transfer_config()
        self._client: Any = _make_client(settings, max_attempts, connect_timeout_s, read_timeout_s)
        if create_bucket:
            self.create_bucket()

    def create_bucket(self) -> None:
        """Create the bucket when it does not exist yet (no error when it does)."""
        with self._errors("check bucket"):
            try:
                self._client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as exc:
                if _error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                    raise
            params: dict[str, Any] = {"Bucket": self.bucket}
            if self._region != "us-east-1":  # us-east-1 refuses an explicit LocationConstraint
                params["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
            try:
                self._client.create_bucket(**params)
            except ClientError as exc:
                if _error_code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise

    # Writing -----------------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput(f"put_bytes needs bytes, got {type(data).__name__}", hint="encode text first")
        name = self._object_name(key)
        with self._errors("upload", key):
            self._client.put_object(Bucket=self.bucket, Key=name, Body=bytes(data), **_extra(content_type))

    def put_stream(self, key: str, fileobj: Readable, content_type: str | None = None) -> None:
        name = self._object_name(key)
        with self._errors("upload", key):
            self._client.upload_fileobj(
                _FullReads(fileobj), self.bucket, name, ExtraArgs=_extra(content_type), Config=self._transfer
            )

    def put_file(self, key: str, path: str | os.PathLike[str], content_type: str | None = None) -> None:
        source = Path(path)
        if not source.is_file():
            raise NotFound(f"cannot upload {source}: no such file", hint="check the path")
        name = self._object_name(key)
        with self._errors("upload", key):  # upload_file reads parts in parallel straight from disk
            self._client.upload_file(
                str(source), self.bucket, name, ExtraArgs=_extra(content_type), Config=self._transfer
            )

    def delete(self, key: str) -> None:
        name = self._object_name(key)
        with self._errors("delete", key):
            self._client.delete_object(Bucket=self.bucket, Key=name)  # S3 deletes are idempotent

    # Reading -----------------------------------------------------------------------------------
    def open(self, key: str) -> BinaryIO:
        name = self._object_name(key)
        with self._errors("download", key):
            response = self._client.get_object(Bucket=self.bucket, Key=name)
        return io.BufferedReader(_BodyReader(response["Body"], self), buffer_size=1 * MIB)

    def list(self, prefix: str = "") -> list[str]:
        validate_prefix(prefix)
        base = self.prefix + "/" if self.prefix else ""
        keys: list[str] = []
        with self._errors("list"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base + prefix
            )
            for page in pages:
                keys.extend(str(item["Key"])[len(base) :] for item in page.get("Contents", []))
        return sorted(keys)

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except NotFound:
            return False
        return True

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def presigned_url(self, key: str, expires_s: int = 3600) -> str:
        name = self._object_name(key)
        check_expiry(expires_s)
        with self._errors("sign a URL for", key):
            url = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": name}, ExpiresIn=expires_s
            )
        return str(url)

    # Internals ---------------------------------------------------------------------------------
    def _object_name(self, key: str) -> str:
        name = join_key(self.prefix, validate_key(key))
        if len(name.encode("utf-8")) > MAX_KEY_BYTES:
            raise InvalidInput(
                f"object key {key!r} is too long under the store prefix {self.prefix!r}: "
                f"together they exceed S3's {MAX_KEY_BYTES} bytes",
                hint="use a shorter key or a shorter store prefix",
            )
        return name

    def _head(self, key: str) -> dict[str, Any]:
        name = self._object_name(key)
        with self._errors("inspect", key):
            return cast(dict[str, Any], self._client.head_object(Bucket=self.bucket, Key=name))

    @contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        """Turn boto3's exceptions into DDA errors that name the store and the fix."""
        try:
            yield
        except DDAError:
            raise
        except ClientError as exc:
            self._raise_client_error(exc, action, key)
        except NoCredentialsError as exc:
            raise Unavailable(
                f"no S3 credentials found to {action} {self.url}",
                hint="set DDA_S3__ACCESS_KEY_ID and DDA_S3__SECRET_ACCESS_KEY (or AWS_* variables)",
            ) from exc
        except BotoCoreError as exc:
            raise self.unavailable(action, exc) from exc

    def unavailable(self, action: str, exc: Exception) -> Unavailable:
        return Unavailable(
            f"cannot {action} {self.url}: S3 endpoint {self.endpoint} is unreachable ({exc})",
            hint="start the S3 server or fix DDA_S3__ENDPOINT_URL",
        )

    def _raise_client_error(self, exc: ClientError, action: str, key: str | None) -> NoReturn:
        code = _error_code(exc)
        if code == "NoSuchBucket" or (key is None and code in _MISSING_KEY_CODES):
            raise NotFound(
                f"bucket {self.bucket!r} does not exist at {self.endpoint}",
                hint="create it (open the store with create_bucket=True) or fix the bucket name",
            ) from exc
        if key is not None and code in _MISSING_KEY_CODES:
            raise NotFound(
                f"no object {key!r} in {self.url}",
                hint="check the key; list(prefix) shows what is stored",
            ) from exc
        if code in _DENIED_CODES:
            raise PermissionDenied(
                f"S3 at {self.endpoint} refused to {action} {self.url} ({code})",
                hint="check DDA_S3__ACCESS_KEY_ID / DDA_S3__SECRET_ACCESS_KEY and the bucket policy",
            ) from exc
        raise Unavailable(
            f"S3 at {self.endpoint} failed to {action} {self.url}: {code} {exc}",
            hint="check the S3 server's logs and DDA_S3__* settings",
        ) from exc


class _FullReads:
    """Make ``read(n)`` return n bytes unless the stream ends.

    s3transfer takes a short read for the end of a non-seekable stream, so a socket or pipe that
    hands out fewer bytes than asked would otherwise be stored silently truncated.
    """

    def __init__(self, source: Readable) -> None:
        self._source = source

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self._source.read(MIB), b""))
        first = self._source.read(size)
        if len(first) >= size or not first:
            return first
        buffer = bytearray(first)
        while len(buffer) < size:
            chunk = self._source.read(size - len(buffer))
            if not chunk:
                break
            buffer += chunk
        return bytes(buffer)


class _BodyReader(io.RawIOBase):
    """A raw stream over botocore's response body, so callers get an ordinary buffered file."""

    def __init__(self, body: Any, store: S3ObjectStore) -> None:
        self._body = body
        self._store = store

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            chunk: bytes = self._body.read(len(view))
        except BotoCoreError as exc:
            raise self._store.unavailable("download from", exc) from exc
        view[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _make_client(settings: S3Settings, max_attempts: int, connect_s: float, read_s: float) -> Any:
    secret = settings.secret_access_key.get_secret_value() if settings.secret_access_key else None
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": settings.addressing_style},
        connect_timeout=connect_s,
        read_timeout=read_s,
        retries={"max_attempts": max_attempts, "mode": "standard"},
    )
    # A private session: boto3's default session is not thread-safe, clients are.
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=secret,
        config=config,
    )


def _validate_bucket(bucket: str) -> str:
    if not isinstance(bucket, str) or not _BUCKET_NAME.match(bucket) or ".." in bucket:
        raise InvalidInput(
            f"{bucket!r} is not a valid S3 bucket name",
            hint="use 3-63 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit",
        )
    return bucket


def _extra(content_type: str | None) -> dict[str, str]:
    return {"ContentType": content_type} if content_type else {}


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) or str(
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )
