"""Model packages on the station: install (upload or URL), list, load/unload, delete, trusted keys.

Install = download to a private folder (size-limited) -> verify the signature against the trusted
keys and every file's hash -> extract safely into the model repository, atomically (all done by
``dda.packaging.install_package``). A version pinned by a workflow cannot be deleted.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import httpx
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy.orm import Session

from dda.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from dda.core.logging import get_logger
from dda.station.context import Station
from dda.station.netsafe import safe_stream
from dda.station.paths import StationPaths
from dda.station.repositories import workflows as workflows_repo
from dda.station.schemas.models import ModelOut

log = get_logger(__name__)
MAX_PACKAGE_BYTES = 4 * 1024**3
DOWNLOAD_TIMEOUT_S = 60.0
CHUNK = 1 << 20


def trusted_key_files(paths: StationPaths) -> list[Path]:
    return sorted(paths.trusted_keys.glob("*.pem"))


def trust_key(paths: StationPaths, pem: Path, name: str | None = None) -> Path:
    """Add a public key (PEM) whose signatures the station accepts."""
    return trust_key_pem(paths, pem.read_bytes(), name or pem.name.removesuffix(".pem"), source=str(pem))


def trust_key_pem(paths: StationPaths, data: bytes, name: str, *, source: str = "the key") -> Path:
    """Add a public key given as PEM bytes (e.g. a use case's signing key sent at enrollment)."""
    try:
        load_pem_public_key(data)
    except ValueError as exc:
        raise InvalidInput(
            f"{source} is not a PEM public key: {exc}",
            hint="pass the .pub.pem that `dda package keygen` wrote, not the private key",
        ) from exc
    paths.trusted_keys.mkdir(parents=True, exist_ok=True)
    target = paths.trusted_keys / f"{name}.pem"
    target.write_bytes(data)
    return target


def installed_dirs(repo: Path) -> Iterator[Path]:
    if not repo.is_dir():
        return
    for name_dir in sorted(p for p in repo.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for version_dir in sorted(p for p in name_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if (version_dir / "manifest.json").is_file():
                yield version_dir


def _describe(station: Station, session: Session, package_dir: Path) -> ModelOut:
    from dda.packaging.manifest import read_manifest

    manifest = read_manifest(package_dir)
    loaded = station.registry.is_loaded(manifest.name, manifest.version)
    size = sum(p.stat().st_size for p in package_dir.rglob("*") if p.is_file())
    return ModelOut(
        name=manifest.name,
        version=manifest.version,
        model_type=manifest.model_type,
        labels=manifest.labels,
        mask_labels=manifest.mask_labels,
        threshold=manifest.threshold,
        target=manifest.target,
        format=manifest.format,
        created_at=manifest.created_at,
        installed_at=datetime.fromtimestamp(package_dir.stat().st_mtime, UTC),
        size_bytes=size,
        loaded=loaded,
        status="loaded" if loaded else "installed",
        pinned_by=workflows_repo.names_pinning(session, manifest.name, manifest.version),
        metrics=manifest.metrics,
        precision=str(getattr(manifest, "precision", "fp32")).upper(),
        mask_colors=_mask_colors(manifest.mask_labels),
    )


def _mask_colors(mask_labels: list[str]) -> dict[str, str]:
    """The colour each mask class has in the stored mask images (the Ground Truth colour map)."""
    from dda.formats.masks import color_map_for

    entries = color_map_for(["background", *mask_labels])
    return {entry["class-name"]: entry["hex-color"] for key, entry in entries.items() if key != "0"}


def list_models(station: Station, session: Session) -> list[ModelOut]:
    return [_describe(station, session, d) for d in installed_dirs(station.paths.model_repo)]


def get_model(station: Station, session: Session, name: str, version: str) -> ModelOut:
    return _describe(station, session, station.registry.package_dir(name, version))


def install_archive(paths: StationPaths, archive: Path) -> tuple[str, str]:
    """Verify and install a package archive into the model repository; returns (name, version)."""
    from dda.packaging import install_package  # type: ignore[attr-defined,unused-ignore]

    keys = trusted_key_files(paths)
    if not keys:
        raise Unavailable(
            "the station trusts no signing key yet, so it cannot verify any package",
            hint="add the packager's public key with `dda station trust-key KEY.pub.pem` "
            f"(it goes into {paths.trusted_keys})",
        )
    if not archive.is_file():
        raise NotFound(f"package {archive} does not exist", hint="check the path")
    try:
        installed = install_package(archive, paths.model_repo, keys)
    except NotFound as exc:  # a file the package should hold is missing: the package is broken
        raise InvalidInput(
            f"the package is damaged or incomplete: {exc.message}", hint="build or download it again"
        ) from exc
    name, version = str(installed.name), str(installed.version)
    log.info("model installed", model=name, version=version)
    return name, version


def _new_download(station: Station) -> Path:
    station.paths.downloads.mkdir(parents=True, exist_ok=True)
    return station.paths.downloads / f"{uuid.uuid4().hex}.tar.gz"


def _copy_limited(chunks: Iterator[bytes], target: Path, limit: int) -> int:
    total = 0
    with target.open("wb") as out:
        for chunk in chunks:
            total += len(chunk)
            if total > limit:
                raise InvalidInput(
                    f"the package is larger than {limit // 1024**2} MiB",
                    hint="check it is a DDA model package",
                )
            out.write(chunk)
    return total


def install_upload(station: Station, stream: BinaryIO) -> tuple[str, str]:
    archive = _new_download(station)
    try:
        _copy_limited(iter(lambda: stream.read(CHUNK), b""), archive, MAX_PACKAGE_BYTES)
        return install_archive(station.paths, archive)
    finally:
        archive.unlink(missing_ok=True)


def install_url(station: Station, url: str) -> tuple[str, str]:
    """Download a package over http(s) (SSRF-checked against the admin's allow-list) and install it.
    Errors name the URL and the status, never what the target answered."""
    archive = _new_download(station)
    allow = station.outbound.get()
    try:
        with (
            httpx.Client(timeout=DOWNLOAD_TIMEOUT_S) as client,
            safe_stream(client, "GET", url, allow=allow) as response,
        ):
            if response.status_code != 200:
                raise Unavailable(
                    f"downloading {url} answered HTTP {response.status_code}",
                    hint="check the URL (a pre-signed URL may have expired)",
                )
            declared = int(response.headers.get("content-length") or 0)
            if declared > MAX_PACKAGE_BYTES:
                raise InvalidInput(
                    f"{url} is {declared} bytes, over the package limit",
                    hint="check it is a DDA model package",
                )
            _copy_limited(response.iter_bytes(CHUNK), archive, MAX_PACKAGE_BYTES)
        try:
            return install_archive(station.paths, archive)
        except (InvalidInput, NotFound) as exc:  # their text may quote the download's bytes
            raise InvalidInput(
                f"{url} did not give a valid DDA model package signed by a trusted key",
                hint="check the URL points at a package built with `dda package build`",
            ) from exc
    except httpx.HTTPError as exc:
        raise Unavailable(
            f"downloading {url} failed ({type(exc).__name__})", hint="check the URL and the network"
        ) from exc
    finally:
        archive.unlink(missing_ok=True)


def delete_model(station: Station, session: Session, name: str, version: str) -> None:
    package_dir = station.registry.package_dir(name, version)
    pinned = workflows_repo.names_pinning(session, name, version)
    if pinned:
        raise Conflict(
            f"model {name} {version} is pinned by workflows {', '.join(pinned)}",
            hint="point those workflows at another version or delete them first",
        )
    station.registry.unload(name, version)
    # Rename first: the version disappears at once, even if removing the files takes a while.
    doomed = package_dir.with_name(f".deleting-{version}-{uuid.uuid4().hex[:8]}")
    package_dir.rename(doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    name_dir = package_dir.parent
    if name_dir.is_dir() and not any(name_dir.iterdir()):
        name_dir.rmdir()


def load_model(station: Station, name: str, version: str) -> None:
    station.registry.load(name, version)


def unload_model(station: Station, name: str, version: str) -> None:
    station.registry.package_dir(name, version)
    if not station.registry.unload(name, version):
        raise NotFound(f"model {name} {version} is not loaded", hint="nothing to unload")
