"""Ed25519 keys, byte signatures and signed sha256 manifests of directories.

A signed directory holds two extra files at its top level:

``SHA256SUMS.json`` (:data:`MANIFEST_NAME`)
    The manifest, as canonical JSON (:func:`canonical_json`: sorted keys, no whitespace, UTF-8)::

        {"exclude": [...], "files": {"<relative/posix/path>": {"sha256": "<hex>", "size": <bytes>}, ...},
         "format": "dda-manifest/1", "hash": "sha256"}

    Every regular file under the directory is listed, except the two signature files and paths
    matching one of the ``exclude`` glob patterns (``fnmatch`` on the relative POSIX path, where
    ``*`` also matches ``/``). The patterns are part of the signed manifest, so a verifier cannot be
    talked into skipping more. Empty folders are not listed. Symlinks and special files are refused:
    their meaning depends on what lies outside the directory.

``SHA256SUMS.json.sig`` (:data:`SIGNATURE_NAME`)
    Canonical JSON ``{"algorithm": "ed25519", "key": "<fingerprint>", "manifest": "SHA256SUMS.json",
    "signature": "<base64 of the 64-byte Ed25519 signature over the manifest file's exact bytes>"}``.

:func:`verify_directory` checks the signature against the *trusted* public keys given to it (the
``key`` field only picks one), then re-hashes the directory: an added, missing or changed file, a
wrong signature or an untrusted key raises :class:`SignatureError`.

Keys: private keys are PKCS#8 PEM, written with mode 0600 and optionally encrypted with a passphrase;
public keys are SubjectPublicKeyInfo PEM. A key's fingerprint (:func:`public_key_fingerprint`) is the
hex sha256 of its 32 raw public bytes. :class:`KeyStore` keeps one key pair in a folder as
``signing-key.pem`` and ``signing-key.pub.pem``.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dda.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied

MANIFEST_NAME = "SHA256SUMS.json"
SIGNATURE_NAME = "SHA256SUMS.json.sig"
MANIFEST_FORMAT = "dda-manifest/1"
SIGNATURE_ALGORITHM = "ed25519"
PRIVATE_KEY_NAME = "signing-key.pem"
PUBLIC_KEY_NAME = "signing-key.pub.pem"

PrivateKeyLike = Ed25519PrivateKey | bytes | str  # key object or PKCS#8 PEM
PublicKeyLike = Ed25519PublicKey | bytes | str  # key object or SubjectPublicKeyInfo PEM
Passphrase = str | bytes | None

_CHUNK = 1024 * 1024
_SIGNATURE_BYTES = 64
_MAX_SIGNATURE_FILE = 64 * 1024
_MAX_MANIFEST_FILE = 256 * 1024 * 1024  # ~2 million files; bounds what an attacker can make us read
_LISTED_DIFFERENCES = 10


class SignatureError(InvalidInput):
    """A signature or signed manifest does not verify: tampering, corruption or an untrusted key."""

    code = "signature_invalid"


# --------------------------------------------------------------------------- keys


def generate_keypair(passphrase: Passphrase = None) -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as (private PKCS#8 PEM, public PEM); encrypted when given a passphrase."""
    key = Ed25519PrivateKey.generate()
    return _private_pem(key, passphrase), _public_pem(key.public_key())


def load_private_key(source: PrivateKeyLike | Path, passphrase: Passphrase = None) -> Ed25519PrivateKey:
    """A private key from a key object, PEM bytes/str or a PEM file (not readable by group/others)."""
    if isinstance(source, Ed25519PrivateKey):
        return source
    label = "private key"
    if isinstance(source, Path):
        _check_private_file_mode(source)
        label, source = f"private key {source}", _read_key_file(source)
    pem = source.encode() if isinstance(source, str) else source
    password = passphrase.encode() if isinstance(passphrase, str) else passphrase
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except TypeError as exc:  # encrypted but no passphrase, or a passphrase for a plain key
        if password is None:
            raise PermissionDenied(f"{label} is encrypted", hint="give its passphrase") from exc
        raise InvalidInput(f"{label} is not encrypted but a passphrase was given", hint="omit it") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        if password is not None and b"ENCRYPTED" in pem:
            raise PermissionDenied(f"wrong passphrase for {label}", hint="check the passphrase") from exc
        raise InvalidInput(
            f"{label} is not a valid PEM private key: {exc}", hint="regenerate the key"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"{label} is a {type(key).__name__}, not Ed25519", hint="generate an Ed25519 key")
    return key


def load_public_key(source: PublicKeyLike | Path) -> Ed25519PublicKey:
    """A public key from a key object, PEM bytes/str or a PEM file."""
    if isinstance(source, Ed25519PublicKey):
        return source
    label = "public key"
    if isinstance(source, Path):
        label, source = f"public key {source}", _read_key_file(source)
    pem = source.encode() if isinstance(source, str) else source
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidInput(f"{label} is not a valid PEM public key: {exc}", hint="export it again") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput(f"{label} is a {type(key).__name__}, not Ed25519", hint="use an Ed25519 key")
    return key


def save_private_key(
    key: PrivateKeyLike, path: Path, *, passphrase: Passphrase = None, overwrite: bool = False
) -> Path:
    """Write the private key as PEM with mode 0600 (atomically; Conflict if it exists and not overwrite)."""
    _write_new_file(Path(path), _private_pem(load_private_key(key), passphrase), 0o600, overwrite=overwrite)
    return Path(path)


def save_public_key(key: PublicKeyLike | Ed25519PrivateKey, path: Path, *, overwrite: bool = False) -> Path:
    """Write the public key (or the public half of a private key) as PEM with mode 0644."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else load_public_key(key)
    _write_new_file(Path(path), _public_pem(public), 0o644, overwrite=overwrite)
    return Path(path)


def public_key_fingerprint(key: PublicKeyLike | Ed25519PrivateKey) -> str:
    """Hex sha256 of the raw 32-byte public key: a stable, printable key id."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else load_public_key(key)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


class KeyStore:
    """One signing key pair in a folder: ``signing-key.pem`` (0600) and ``signing-key.pub.pem``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.private_key_path = self.directory / PRIVATE_KEY_NAME
        self.public_key_path = self.directory / PUBLIC_KEY_NAME

    def exists(self) -> bool:
        return self.private_key_path.is_file()

    def create(self, passphrase: Passphrase = None, *, overwrite: bool = False) -> Ed25519PrivateKey:
        """Generate and store a new pair; Conflict when one exists and not overwrite."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        save_private_key(key, self.private_key_path, passphrase=passphrase, overwrite=overwrite)
        save_public_key(key, self.public_key_path, overwrite=True)
        return key

    def load_private(self, passphrase: Passphrase = None) -> Ed25519PrivateKey:
        if not self.exists():
            raise NotFound(f"no signing key in {self.directory}", hint="create one with KeyStore.create()")
        return load_private_key(self.private_key_path, passphrase)

    def load_public(self) -> Ed25519PublicKey:
        if self.public_key_path.is_file():
            return load_public_key(self.public_key_path)
        return self.load_private().public_key()

    def fingerprint(self) -> str:
        return public_key_fingerprint(self.load_public())


def load_or_create_signing_key(directory: Path, passphrase: Passphrase = None) -> Ed25519PrivateKey:
    """The key pair kept in ``directory``, generated on first use (safe against a concurrent creator)."""
    store = KeyStore(directory)
    if not store.exists():
        try:
            return store.create(passphrase)
        except Conflict:
            pass  # another process created it a moment ago
    key = store.load_private(passphrase)
    if not store.public_key_path.is_file():
        save_public_key(key, store.public_key_path)
    return key


# --------------------------------------------------------------------------- bytes


def sign_bytes(data: bytes, key: PrivateKeyLike) -> bytes:
    """The 64-byte Ed25519 signature of ``data``."""
    return load_private_key(key).sign(data)


def verify_bytes(data: bytes, signature: bytes, public_keys: Iterable[PublicKeyLike]) -> str:
    """Check ``signature`` against each trusted key; return the fingerprint of the one that verifies."""
    keys = [load_public_key(key) for key in public_keys]
    if not keys:
        raise SignatureError("no trusted public keys were given", hint="pass the signer's public key")
    if len(signature) != _SIGNATURE_BYTES:
        raise SignatureError(
            f"signature is {len(signature)} bytes, Ed25519 signatures are 64", hint="re-sign"
        )
    for key in keys:
        try:
            key.verify(signature, data)
        except InvalidSignature:
            continue
        return public_key_fingerprint(key)
    raise SignatureError(
        f"signature does not verify with any of the {len(keys)} trusted key(s)",
        hint="the data changed after signing, or it was signed by a key you do not trust",
    )


def canonical_json(obj: Any) -> bytes:
    """Deterministic UTF-8 JSON: sorted keys, no whitespace, no NaN; equal data gives equal bytes."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


# --------------------------------------------------------------------------- directories


def build_manifest(directory: Path, exclude: Sequence[str] = ()) -> dict[str, Any]:
    """List every regular file under ``directory`` with its sha256 and size (sorted by path)."""
    root = Path(directory)
    if not root.is_dir():
        raise NotFound(f"directory {root} does not exist", hint="check the path")
    patterns = sorted(set(exclude))
    files: dict[str, dict[str, Any]] = {}
    for rel, path in _walk_files(root, patterns):
        digest, size = _hash_file(path)
        files[rel] = {"sha256": digest, "size": size}
    return {
        "exclude": patterns,
        "files": dict(sorted(files.items())),
        "format": MANIFEST_FORMAT,
        "hash": "sha256",
    }


def sign_directory(
    directory: Path, private_key: PrivateKeyLike, exclude: Sequence[str] = ()
) -> dict[str, Any]:
    """Write SHA256SUMS.json and SHA256SUMS.json.sig into ``directory``; return the manifest."""
    root = Path(directory)
    key = load_private_key(private_key)
    manifest = build_manifest(root, exclude)
    manifest_bytes = canonical_json(manifest)
    signature_doc = {
        "algorithm": SIGNATURE_ALGORITHM,
        "key": public_key_fingerprint(key),
        "manifest": MANIFEST_NAME,
        "signature": base64.b64encode(key.sign(manifest_bytes)).decode("ascii"),
    }
    _write_new_file(root / MANIFEST_NAME, manifest_bytes, 0o644, overwrite=True)
    _write_new_file(root / SIGNATURE_NAME, canonical_json(signature_doc), 0o644, overwrite=True)
    return manifest


def verify_directory(directory: Path, public_keys: Iterable[PublicKeyLike]) -> dict[str, Any]:
    """Verify the signature with a trusted key, then that the files match; return the manifest."""
    root = Path(directory)
    trusted = {public_key_fingerprint(key): load_public_key(key) for key in public_keys}
    if not trusted:
        raise SignatureError("no trusted public keys were given", hint="pass the signer's public key")
    manifest_bytes = _read_signed_file(root, MANIFEST_NAME, limit=_MAX_MANIFEST_FILE)
    fingerprint, signature = _parse_signature(
        _read_signed_file(root, SIGNATURE_NAME, limit=_MAX_SIGNATURE_FILE)
    )
    if fingerprint not in trusted:
        raise SignatureError(
            f"{root} is signed by key {fingerprint}, which is not trusted",
            hint=f"trusted keys: {', '.join(sorted(trusted))}; add the signer's public key if you trust it",
        )
    verify_bytes(manifest_bytes, signature, [trusted[fingerprint]])
    manifest = _parse_manifest(manifest_bytes)
    try:
        current = build_manifest(root, manifest["exclude"])
    except InvalidInput as exc:
        raise SignatureError(
            f"{root} no longer matches its signed manifest: {exc.message}", hint=exc.hint
        ) from exc
    _compare(root, manifest["files"], current["files"])
    return manifest


# --------------------------------------------------------------------------- internals


def _private_pem(key: Ed25519PrivateKey, passphrase: Passphrase) -> bytes:
    encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
    if passphrase:
        secret = passphrase.encode() if isinstance(passphrase, str) else passphrase
        encryption = serialization.BestAvailableEncryption(secret)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _read_key_file(path: Path) -> bytes:
    if not path.is_file():
        raise NotFound(f"key file {path} does not exist", hint="check the path or create a key")
    return path.read_bytes()


def _check_private_file_mode(path: Path) -> None:
    if os.name != "posix" or not path.is_file():
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PermissionDenied(
            f"private key {path} is accessible by other users (mode {mode:04o})",
            hint=f"run: chmod 600 {path}",
        )


def _write_new_file(path: Path, data: bytes, mode: int, *, overwrite: bool) -> None:
    """Write atomically: a private temp file next to ``path``, then link (new) or replace (overwrite)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        if overwrite:
            os.replace(tmp_name, path)
            return
        try:
            os.link(tmp_name, path)  # fails if path exists: never clobbers a key
        except FileExistsError:
            raise Conflict(f"{path} already exists", hint="remove it first or pass overwrite=True") from None
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def _walk_files(root: Path, patterns: Sequence[str]) -> list[tuple[str, Path]]:
    """(relative POSIX path, path) of every regular file not excluded; an excluded folder is skipped whole."""

    def excluded(rel: str) -> bool:
        return rel in (MANIFEST_NAME, SIGNATURE_NAME) or any(fnmatch.fnmatchcase(rel, p) for p in patterns)

    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for name in [*dirnames, *filenames]:
            path = base / name
            rel = path.relative_to(root).as_posix()
            mode = os.lstat(path).st_mode
            if excluded(rel):
                if stat.S_ISDIR(mode):
                    dirnames.remove(name)
                continue
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise InvalidInput(
                    f"{rel} in {root} is a symlink or special file; signed folders hold regular files only",
                    hint="replace it with a copy of the file, or exclude it",
                )
            found.append((rel, path))
    return found


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks (the digest the manifests list)."""
    return _hash_file(path)[0]


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _read_signed_file(root: Path, name: str, *, limit: int) -> bytes:
    path = root / name
    if not path.is_file() or path.is_symlink():
        raise SignatureError(f"{root} is not signed: {name} is missing", hint="sign it with sign_directory()")
    if path.stat().st_size > limit:
        raise SignatureError(
            f"{path} is larger than {limit:,} bytes, more than any DDA signature file", hint="re-sign"
        )
    return path.read_bytes()


def _parse_signature(raw: bytes) -> tuple[str, bytes]:
    try:
        doc = json.loads(raw)
        algorithm, fingerprint, encoded = doc["algorithm"], doc["key"], doc["signature"]
        signature = base64.b64decode(encoded, validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise SignatureError(f"{SIGNATURE_NAME} is malformed: {exc}", hint="re-sign the directory") from exc
    if algorithm != SIGNATURE_ALGORITHM or not isinstance(fingerprint, str):
        raise SignatureError(
            f"{SIGNATURE_NAME} uses unsupported algorithm {algorithm!r}", hint="re-sign with Ed25519"
        )
    return fingerprint, signature


def _parse_manifest(raw: bytes) -> dict[str, Any]:
    """Structure checks on the (already authenticated) manifest."""
    try:
        manifest = json.loads(raw)
        files, exclude = manifest["files"], manifest["exclude"]
        ok = manifest["format"] == MANIFEST_FORMAT and isinstance(files, dict) and isinstance(exclude, list)
        ok = ok and all(isinstance(p, str) for p in exclude)
        ok = ok and all(_valid_rel(rel) and _valid_record(rec) for rel, rec in files.items())
    except (ValueError, KeyError, TypeError) as exc:
        raise SignatureError(f"{MANIFEST_NAME} is malformed: {exc}", hint="re-sign the directory") from exc
    if not ok:
        raise SignatureError(
            f"{MANIFEST_NAME} does not follow {MANIFEST_FORMAT}", hint="re-sign the directory"
        )
    result: dict[str, Any] = manifest
    return result


def _valid_rel(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return (
        bool(parts) and not rel.startswith("/") and ".." not in parts and PurePosixPath(rel).as_posix() == rel
    )


def _valid_record(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("sha256"), str)
        and len(record["sha256"]) == 64
        and isinstance(record.get("size"), int)
    )


def _compare(root: Path, signed: dict[str, Any], current: dict[str, Any]) -> None:
    added = sorted(set(current) - set(signed))
    missing = sorted(set(signed) - set(current))
    changed = sorted(rel for rel in set(signed) & set(current) if signed[rel] != current[rel])
    if not (added or missing or changed):
        return
    parts = [
        f"{label}: {_listing(names)}"
        for label, names in (("added", added), ("missing", missing), ("changed", changed))
        if names
    ]
    count = len(added) + len(missing) + len(changed)
    raise SignatureError(
        f"{root} does not match its signed manifest ({count} file(s) differ; {'; '.join(parts)})",
        hint="the directory was modified after signing; restore it from the original package or re-sign it",
    )


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED_DIFFERENCES])
    return shown + (
        f" and {len(names) - _LISTED_DIFFERENCES} more" if len(names) > _LISTED_DIFFERENCES else ""
    )
