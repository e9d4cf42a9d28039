"""What a deployment ships: signed package archives in the use case's store, described by their
own manifest (name, version), sha256 and size, and served to devices with HTTP Range support."""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Iterator
from typing import Any

from dda.core.errors import InvalidInput, NotFound
from dda.core.storage import ObjectStore
from dda.portal.services.fleet.deployments import DeploymentItem

CHUNK = 1 << 20
MAX_MANIFEST_BYTES = 1 << 20


def describe_package(store: ObjectStore, key: str) -> DeploymentItem:
    """Read a package archive's manifest.json and hash the archive (one streaming pass)."""
    if not key.startswith("packages/") or not key.endswith((".tar.gz", ".tgz")):
        raise InvalidInput(f"{key!r} is not a package archive under packages/", hint="pick a built package")
    if not store.exists(key):
        raise NotFound(f"no package {key!r} in this use case", hint="build or pick another package")
    digest, size = hashlib.sha256(), 0
    with store.open(key) as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    with store.open(key) as handle, tarfile.open(fileobj=handle, mode="r|gz") as archive:
        manifest = _manifest_from(archive, key)
    return DeploymentItem(
        model_name=str(manifest["name"]),
        model_version=str(manifest["version"]),
        package_key=key,
        package_sha256=digest.hexdigest(),
        package_size=size,
    )


def _manifest_from(archive: tarfile.TarFile, key: str) -> dict[str, object]:
    for member in archive:
        if member.name.lstrip("./") == "manifest.json" and member.isfile():
            if member.size > MAX_MANIFEST_BYTES:
                break
            extracted = archive.extractfile(member)
            if extracted is None:
                break
            data = json.loads(extracted.read(MAX_MANIFEST_BYTES))
            if isinstance(data, dict) and "name" in data and "version" in data:
                return data
            break
    raise InvalidInput(
        f"{key!r} holds no valid manifest.json", hint="build the package with `dda package build`"
    )


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single 'bytes=' range; None for the whole object."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        raise InvalidInput("only one 'bytes=START-[END]' range is supported", hint="ask for a single range")
    first, _, last = spec.strip().partition("-")
    if not first.isdigit() or (last and not last.isdigit()):
        raise InvalidInput("malformed Range header", hint="use bytes=START-[END]")
    start, end = int(first), int(last) if last else size - 1
    if start >= size or end < start:
        raise InvalidInput("the range is outside the package", hint="start below the package size")
    return start, min(end, size - 1)


def stream_range(store: ObjectStore, key: str, start: int, end: int) -> Iterator[bytes]:
    with store.open(key) as handle:
        if _seekable(handle):
            handle.seek(start)
        else:
            _skip(handle, start)
        remaining = end - start + 1
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


def _seekable(handle: Any) -> bool:
    try:
        return bool(handle.seekable())
    except (AttributeError, OSError):
        return False


def _skip(handle: object, count: int) -> None:
    while count > 0:
        chunk = handle.read(min(CHUNK, count))  # type: ignore[attr-defined]
        if not chunk:
            return
        count -= len(chunk)
