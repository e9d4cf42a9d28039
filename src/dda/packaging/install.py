"""Archive a package, and install one into a station's model repository (verify, then publish).

Installed layout: ``<repo>/<name>/<version>/`` holds the package (manifest + the four Triton model
folders), so ``<repo>/<name>/<version>`` is itself a Triton model repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dda.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from dda.core.logging import get_logger
from dda.core.safe_archive import create_tar_gz, extract_archive
from dda.core.signing import SIGNATURE_NAME
from dda.packaging.manifest import MANIFEST_FILE, PackageManifest, read_manifest
from dda.packaging.verify import KeySource, signer_fingerprint, verify_directory_package

log = get_logger(__name__)

BUILD_SCRIPT = "build_engine.sh"
ENGINE_BUILD_TIMEOUT_S = 3600


@dataclass(frozen=True)
class InstalledModel:
    """A verified package published at ``path`` (``<repo>/<name>/<version>``)."""

    name: str
    version: str
    path: Path
    manifest: PackageManifest
    signer: str  # fingerprint of the key that signed it
    already_installed: bool = False


def archive_package(package_dir: Path, archive_path: Path | None = None, *, overwrite: bool = False) -> Path:
    """Pack a built package into a reproducible ``<name>-<version>.tar.gz`` (default: next to it).

    An existing archive is never replaced unless ``overwrite``: a released archive may already be
    installed on stations, and a new build with the same name and version would silently differ."""
    package_dir = Path(package_dir)
    manifest = read_manifest(package_dir)
    if not (package_dir / SIGNATURE_NAME).is_file():
        raise InvalidInput(f"{package_dir} is not signed", hint="build it with `dda package`")
    target = Path(archive_path or package_dir.parent / f"{manifest.name}-{manifest.version}.tar.gz")
    if target.exists() and not overwrite:
        raise InvalidInput(
            f"archive {target.name} already exists",
            hint="bump --version, remove the old archive, or pass --overwrite",
        )
    return create_tar_gz(package_dir, target)


def _build_engine(root: Path, manifest: PackageManifest) -> None:
    """Jetson: build the TensorRT engine in the staging copy, before it becomes visible."""
    script = root / manifest.triton.model_file.rsplit("/", 1)[0] / BUILD_SCRIPT
    if not script.is_file():
        raise InvalidInput(
            f"Jetson package {manifest.name} has no {BUILD_SCRIPT}", hint="rebuild the package"
        )
    try:
        done = subprocess.run(
            ["bash", str(script)], capture_output=True, text=True, timeout=ENGINE_BUILD_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise Unavailable(
            "TensorRT engine build timed out", hint="check the device's load and retry"
        ) from exc
    if done.returncode != 0:
        raise Unavailable(
            f"TensorRT engine build failed: {done.stderr.strip()[-2000:]}",
            hint="install TensorRT (JetPack) on the device or set TRTEXEC=/path/to/trtexec",
        )


def _same_package(existing: Path, staged: Path) -> bool:
    mine, theirs = existing / MANIFEST_FILE, staged / MANIFEST_FILE
    return mine.is_file() and mine.read_bytes() == theirs.read_bytes()


def install_package(
    archive: Path,
    model_repo_dir: Path,
    trusted_keys: Sequence[KeySource],
    *,
    build_engine: bool | None = None,
) -> InstalledModel:
    """Verify ``archive`` and publish it atomically as ``<repo>/<name>/<version>/``.

    Extraction is safe (``dda.core.safe_archive``) and happens in a private folder inside the repo;
    nothing becomes visible unless the signature and every file verify. Installing the same package
    again is a no-op; a different package under an installed name+version is a Conflict.
    ``build_engine`` (default: for Jetson packages) runs ``build_engine.sh`` before publishing.
    """
    archive, repo = Path(archive), Path(model_repo_dir)
    if not archive.is_file():
        raise NotFound(f"package archive {archive} does not exist", hint="check the path")
    repo.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".dda-install-", dir=repo) as tmp:
        staged = Path(tmp) / "package"
        extract_archive(archive, staged)
        manifest = verify_directory_package(staged, trusted_keys)
        dest = repo / manifest.name / manifest.version
        signer = signer_fingerprint(staged)
        if dest.exists():
            if _same_package(dest, staged):
                return InstalledModel(manifest.name, manifest.version, dest, manifest, signer, True)
            raise Conflict(
                f"{manifest.name} version {manifest.version} is already installed with other content",
                hint="give the new package a new --version, or uninstall the old one first",
            )
        if build_engine if build_engine is not None else manifest.target == "jetson":
            _build_engine(staged, manifest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staged, dest)  # same file system: atomic
        except OSError as exc:
            raise Conflict(f"{dest} appeared while installing", hint="retry the install") from exc
    log.info("package installed", name=manifest.name, version=manifest.version, path=str(dest), signer=signer)
    return InstalledModel(manifest.name, manifest.version, dest, manifest, signer)


def uninstall_package(model_repo_dir: Path, name: str, version: str) -> None:
    """Remove ``<repo>/<name>/<version>`` (the station keeps a model it is using loaded)."""
    dest = Path(model_repo_dir) / name / version
    if not (dest / MANIFEST_FILE).is_file():
        raise NotFound(f"{name} version {version} is not installed in {model_repo_dir}")
    trash = Path(tempfile.mkdtemp(prefix=".dda-uninstall-", dir=model_repo_dir))
    os.rename(dest, trash / "package")  # vanish atomically, then delete at leisure
    shutil.rmtree(trash, ignore_errors=True)
