"""Verify a package: Ed25519 signature by a trusted key, every file's sha256, a valid manifest."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dda.core.errors import InvalidInput, NotFound
from dda.core.safe_archive import extract_archive
from dda.core.signing import MANIFEST_NAME, PublicKeyLike, SignatureError, load_public_key, verify_directory
from dda.packaging.manifest import MANIFEST_FILE, PackageManifest, parse_manifest
from dda.packaging.triton import VERSION_DIR

KeySource = PublicKeyLike | Path


def _check_consistency(root: Path, manifest: PackageManifest, signed: dict[str, dict[str, object]]) -> None:
    """manifest.json's own file list must agree with the signed list (same files, same hashes)."""
    listed = {rel: rec["sha256"] for rel, rec in signed.items() if rel != MANIFEST_FILE}
    if listed != manifest.files:
        differ = sorted(set(listed.items()) ^ set(manifest.files.items()))
        raise SignatureError(
            f"{root}: {MANIFEST_FILE} disagrees with the signed file list ({len(differ)} entries differ)",
            hint="the package was assembled by hand or tampered with; rebuild it with `dda package`",
        )
    triton = manifest.triton
    needed = [f"{m}/config.pbtxt" for m in (triton.ensemble, triton.marshal, triton.base, triton.post)]
    needed += [f"{triton.marshal}/{VERSION_DIR}/model.py", f"{triton.post}/{VERSION_DIR}/model.py"]
    needed.append(triton.model_file)
    missing = [rel for rel in needed if rel not in manifest.files]
    if missing:
        raise InvalidInput(
            f"{root} lacks required package files: {', '.join(missing)}",
            hint="rebuild the package with `dda package`",
        )


def verify_directory_package(root: Path, trusted_keys: Sequence[KeySource]) -> PackageManifest:
    if not (root / MANIFEST_FILE).is_file():
        raise NotFound(
            f"{root} is not a DDA model package: {MANIFEST_FILE} is missing",
            hint="build one with `dda package`",
        )
    keys = [load_public_key(k) for k in trusted_keys]
    signed = verify_directory(root, keys)  # signature, then added / missing / changed files
    manifest = parse_manifest((root / MANIFEST_FILE).read_bytes(), str(root / MANIFEST_FILE))
    _check_consistency(root, manifest, signed["files"])
    excluded = sorted(signed.get("exclude", []))
    if excluded != sorted(manifest.generated_at_install):
        raise SignatureError(
            f"{root}: signed exclusions {excluded} differ from the manifest's install files",
            hint="rebuild the package with `dda package`",
        )
    return manifest


def verify_package(package: Path, trusted_keys: Sequence[KeySource]) -> PackageManifest:
    """Verify an unpacked package directory or a package archive (.tar.gz / .tar / .zip).

    Raises SignatureError (an InvalidInput) for a bad or untrusted signature and for any tampered,
    added or missing file, InvalidInput for a malformed manifest, NotFound for a missing path.
    """
    package = Path(package)
    if package.is_dir():
        return verify_directory_package(package, trusted_keys)
    if not package.is_file():
        raise NotFound(f"package {package} does not exist", hint="check the path")
    with tempfile.TemporaryDirectory(prefix=".dda-verify-") as tmp:
        root = Path(tmp) / "package"
        extract_archive(package, root)
        return verify_directory_package(root, trusted_keys)


def signer_fingerprint(root: Path) -> str:
    """The key fingerprint named by the package's signature file (meaningful after verification)."""
    doc = json.loads((root / f"{MANIFEST_NAME}.sig").read_text(encoding="utf-8"))
    return str(doc.get("key", ""))
