"""Importing images that are already somewhere: a server folder under one of the import roots a
PortalAdmin configured (``portal.import_roots``; never an arbitrary server path), or an S3 API
prefix reached with credentials given for this one import (not stored) or through a data
location attached to the use case. Every image goes through the same checks as an upload.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from pydantic import SecretStr

from dda.core.errors import DDAError, InvalidInput, NotFound, PermissionDenied
from dda.core.settings import S3Settings
from dda.core.storage import ObjectStore, validate_prefix
from dda.core.storage.s3 import S3ObjectStore
from dda.portal.context import Portal
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services import data_locations
from dda.portal.services.data import MB, Ingestor, clean_folder, rejected
from dda.portal.services.uploads import BatchResult, ingest_path, temp_dir

MAX_IMPORT_FILES = 10_000
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".zip"})


def _root(portal: Portal, root_name: str) -> Path:
    roots = portal.settings.portal.import_roots
    if root_name not in roots:
        raise NotFound(
            f"no import root named {root_name!r}",
            hint="a PortalAdmin lists server folders in DDA_PORTAL__IMPORT_ROOTS; pick one of those names",
        )
    return Path(roots[root_name]).resolve()


def resolve_server_folder(portal: Portal, root_name: str, subpath: str) -> Path:
    """The folder ``subpath`` under the named root; refuses anything that leaves the root."""
    root = _root(portal, root_name)
    sub = clean_folder(subpath)
    target = (root / sub).resolve() if sub else root
    if not target.is_relative_to(root) or not target.is_dir():
        raise NotFound(f"no folder {subpath!r} in import root {root_name!r}", hint="check the sub-path")
    return target


def import_folder(
    portal: Portal, usecase_id: str, actor_id: str | None, root_name: str, subpath: str, folder: str
) -> BatchResult:
    source = resolve_server_folder(portal, root_name, subpath)
    root = _root(portal, root_name)
    ingestor = Ingestor(portal, usecase_id, actor_id)
    result = BatchResult()
    count = 0
    cap = portal.settings.portal.max_upload_mb * MB
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for file_name in sorted(filenames):
            path = Path(dirpath) / file_name
            if path.suffix.lower() not in IMAGE_SUFFIXES or file_name.startswith("."):
                continue
            # a symlink may point anywhere: import only regular files that stay under the root
            if path.is_symlink() or not path.resolve().is_relative_to(root):
                continue
            count += 1
            if count > MAX_IMPORT_FILES:
                raise InvalidInput(
                    f"the folder holds more than {MAX_IMPORT_FILES} images",
                    hint="import sub-folders one by one",
                )
            relative = PurePosixPath(path.relative_to(source).as_posix())
            try:
                sub = clean_folder("/".join(p for p in (folder, *relative.parent.parts) if p))
            except DDAError as exc:
                result.items.append(rejected(relative.as_posix(), exc))
                continue
            before = len(result.items)
            ingest_path(ingestor, path, sub, relative.name, result, cap)
            for item in result.items[before:]:
                item.name = relative.as_posix() if item.name == relative.name else item.name
    result.quota_hit = ingestor.quota_hit
    return result


def s3_source(
    portal: Portal,
    *,
    endpoint_url: str | None,
    bucket: str,
    prefix: str,
    region: str,
    access_key_id: str | None,
    secret_access_key: SecretStr | None,
) -> ObjectStore:
    """A store on another S3 API server, for one import; the endpoint must be allowed by settings."""
    allowed = [e.rstrip("/") for e in portal.settings.portal.import_s3_endpoints]
    if endpoint_url is not None and endpoint_url.rstrip("/") not in allowed:
        raise PermissionDenied(
            "this S3 endpoint is not one imports may reach",
            hint="a PortalAdmin lists allowed endpoints in DDA_PORTAL__IMPORT_S3_ENDPOINTS",
        )
    s3 = S3Settings(
        endpoint_url=endpoint_url,
        region=region,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        addressing_style="path",
    )
    return S3ObjectStore(
        bucket, validate_prefix(prefix.strip("/")), s3=s3, connect_timeout_s=3, max_attempts=2
    )


def location_source(portal: Portal, usecase_id: str, location_id: str) -> ObjectStore:
    """A data location attached to the use case (read-only shared data)."""
    with portal.session() as session:
        attached = {loc.id: loc for loc in usecases_repo.attached_locations(session, usecase_id)}
        location = attached.get(location_id)
        if location is None:
            raise NotFound(
                f"no data location {location_id!r} attached to this use case", hint="attach it first"
            )
        return data_locations.store(portal, location)


def import_store(
    portal: Portal, usecase_id: str, actor_id: str | None, source: ObjectStore, prefix: str, folder: str
) -> BatchResult:
    """Import every image (and archive) under ``prefix`` of ``source`` into ``folder``."""
    prefix = validate_prefix(prefix)
    try:
        keys = [k for k in source.list(prefix) if PurePosixPath(k).suffix.lower() in IMAGE_SUFFIXES]
    except DDAError:
        raise
    except Exception as exc:  # botocore errors: say what failed, never a traceback
        raise InvalidInput(
            f"the S3 source cannot be listed ({type(exc).__name__})", hint="check the settings"
        ) from exc
    if len(keys) > MAX_IMPORT_FILES:
        raise InvalidInput(
            f"the prefix holds more than {MAX_IMPORT_FILES} images", hint="import a narrower prefix"
        )
    ingestor = Ingestor(portal, usecase_id, actor_id)
    result = BatchResult()
    cap = portal.settings.portal.max_upload_mb * MB
    work = temp_dir(portal)
    base = prefix.rstrip("/") + "/" if prefix and not prefix.endswith("/") else prefix
    try:
        for index, key in enumerate(keys):
            relative = PurePosixPath(key[len(base) :] if base and key.startswith(base) else key)
            try:
                sub = clean_folder("/".join(p for p in (folder, *relative.parent.parts) if p))
                if source.size(key) > cap:
                    raise InvalidInput(f"{key} is over {cap // MB} MB", hint="split it")
                local = source.get_file(key, work / f"{index}{relative.suffix}")
            except DDAError as exc:
                result.items.append(rejected(key, exc))
                continue
            before = len(result.items)
            ingest_path(ingestor, local, sub, relative.name, result, cap)
            for item in result.items[before:]:
                item.name = key if item.name == relative.name else item.name
            local.unlink(missing_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.quota_hit = ingestor.quota_hit
    return result
