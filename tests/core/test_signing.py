"""Ed25519 keys, byte signatures and signed directory manifests: happy paths and every failure mode."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dda.core.errors import Conflict, DDAError, InvalidInput, NotFound, PermissionDenied
from dda.core.signing import (
    MANIFEST_NAME,
    PRIVATE_KEY_NAME,
    PUBLIC_KEY_NAME,
    SIGNATURE_NAME,
    KeyStore,
    SignatureError,
    build_manifest,
    canonical_json,
    generate_keypair,
    load_or_create_signing_key,
    load_private_key,
    load_public_key,
    public_key_fingerprint,
    save_private_key,
    save_public_key,
    sign_bytes,
    sign_directory,
    verify_bytes,
    verify_directory,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def package(tmp_path: Path) -> Path:
    root = tmp_path / "package"
    (root / "model").mkdir(parents=True)
    (root / "model" / "model.onnx").write_bytes(b"\x08\x07" * 1000)
    (root / "config.json").write_text('{"threshold": 0.5}')
    (root / ".hidden").write_text("dotfiles count too")
    (root / "empty.txt").write_bytes(b"")
    (root / "model" / "nested" / "deeper").mkdir(parents=True)
    (root / "model" / "nested" / "deeper" / "labels.txt").write_text("normal\nanomaly\n")
    return root


# --------------------------------------------------------------------------- keys


def test_generate_keypair_returns_pem_pair_that_signs_and_verifies() -> None:
    private_pem, public_pem = generate_keypair()
    assert private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    signature = sign_bytes(b"payload", private_pem)
    assert verify_bytes(b"payload", signature, [public_pem]) == public_key_fingerprint(public_pem)


def test_generate_keypair_with_passphrase_is_encrypted() -> None:
    private_pem, _ = generate_keypair("correct horse")
    assert b"ENCRYPTED" in private_pem
    with pytest.raises(PermissionDenied, match="encrypted"):
        load_private_key(private_pem)
    with pytest.raises(PermissionDenied, match="wrong passphrase"):
        load_private_key(private_pem, "battery staple")
    assert isinstance(load_private_key(private_pem, b"correct horse"), Ed25519PrivateKey)


def test_passphrase_for_an_unencrypted_key_is_refused() -> None:
    private_pem, _ = generate_keypair()
    with pytest.raises(InvalidInput, match="not encrypted"):
        load_private_key(private_pem, "unneeded")


def test_fingerprint_is_stable_across_forms_and_distinct_between_keys(key: Ed25519PrivateKey) -> None:
    public = key.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    fingerprint = public_key_fingerprint(public)
    assert fingerprint == hashlib.sha256(raw).hexdigest()
    assert public_key_fingerprint(key) == public_key_fingerprint(pem) == public_key_fingerprint(pem.decode())
    assert public_key_fingerprint(Ed25519PrivateKey.generate()) != fingerprint


def test_non_ed25519_and_garbage_keys_are_refused(tmp_path: Path) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_private = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ec_public = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidInput, match="not Ed25519"):
        load_private_key(ec_private)
    with pytest.raises(InvalidInput, match="not Ed25519"):
        load_public_key(ec_public)
    with pytest.raises(InvalidInput, match="not a valid PEM private key"):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(InvalidInput, match="not a valid PEM public key"):
        load_public_key("hello")
    with pytest.raises(NotFound):
        load_public_key(tmp_path / "missing.pub.pem")


def test_save_private_key_is_0600_and_never_clobbers(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    path = save_private_key(key, tmp_path / "keys" / "k.pem")
    assert _mode(path) == 0o600
    assert public_key_fingerprint(load_private_key(path)) == public_key_fingerprint(key)
    with pytest.raises(Conflict, match="already exists"):
        save_private_key(Ed25519PrivateKey.generate(), path)
    assert public_key_fingerprint(load_private_key(path)) == public_key_fingerprint(key)
    other = Ed25519PrivateKey.generate()
    save_private_key(other, path, overwrite=True)
    assert _mode(path) == 0o600
    assert public_key_fingerprint(load_private_key(path)) == public_key_fingerprint(other)
    assert sorted(p.name for p in path.parent.iterdir()) == ["k.pem"]  # no temp files left


def test_encrypted_private_key_file(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    path = save_private_key(key, tmp_path / "k.pem", passphrase="s3cret")
    assert b"ENCRYPTED" in path.read_bytes()
    with pytest.raises(PermissionDenied):
        load_private_key(path)
    assert public_key_fingerprint(load_private_key(path, "s3cret")) == public_key_fingerprint(key)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_private_key_readable_by_others_is_refused(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    path = save_private_key(key, tmp_path / "k.pem")
    path.chmod(0o644)
    with pytest.raises(PermissionDenied, match="mode 0644") as info:
        load_private_key(path)
    assert info.value.hint == f"run: chmod 600 {path}"


def test_save_public_key_from_private_or_public(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    from_private = save_public_key(key, tmp_path / "a.pub.pem")
    from_public = save_public_key(key.public_key(), tmp_path / "b.pub.pem")
    assert from_private.read_bytes() == from_public.read_bytes()
    assert _mode(from_private) == 0o644
    assert isinstance(load_public_key(from_private), Ed25519PublicKey)


def test_keystore_create_load_and_conflict(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    assert not store.exists()
    with pytest.raises(NotFound, match="no signing key"):
        store.load_private()
    created = store.create()
    assert store.exists()
    assert store.private_key_path.name == PRIVATE_KEY_NAME and store.public_key_path.name == PUBLIC_KEY_NAME
    assert _mode(store.private_key_path) == 0o600 and _mode(store.directory) == 0o700
    assert store.fingerprint() == public_key_fingerprint(created)
    assert public_key_fingerprint(store.load_private()) == public_key_fingerprint(created)
    with pytest.raises(Conflict):
        store.create()
    replaced = store.create(overwrite=True)
    assert store.fingerprint() == public_key_fingerprint(replaced) != public_key_fingerprint(created)


def test_load_or_create_signing_key_is_idempotent(tmp_path: Path) -> None:
    first = load_or_create_signing_key(tmp_path / "keys")
    second = load_or_create_signing_key(tmp_path / "keys")
    assert public_key_fingerprint(first) == public_key_fingerprint(second)
    (tmp_path / "keys" / PUBLIC_KEY_NAME).unlink()
    load_or_create_signing_key(tmp_path / "keys")
    assert KeyStore(tmp_path / "keys").fingerprint() == public_key_fingerprint(first)


def test_load_or_create_with_passphrase(tmp_path: Path) -> None:
    created = load_or_create_signing_key(tmp_path / "keys", passphrase="pw")
    with pytest.raises(PermissionDenied):
        load_or_create_signing_key(tmp_path / "keys")
    again = load_or_create_signing_key(tmp_path / "keys", passphrase="pw")
    assert public_key_fingerprint(again) == public_key_fingerprint(created)


# --------------------------------------------------------------------------- bytes


def test_verify_bytes_finds_the_signing_key_among_several(key: Ed25519PrivateKey) -> None:
    others = [Ed25519PrivateKey.generate().public_key() for _ in range(3)]
    signature = sign_bytes(b"data", key)
    assert len(signature) == 64
    assert verify_bytes(b"data", signature, [*others, key.public_key()]) == public_key_fingerprint(key)


def test_verify_bytes_failure_modes(key: Ed25519PrivateKey) -> None:
    signature = sign_bytes(b"data", key)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_bytes(b"data!", signature, [key.public_key()])
    with pytest.raises(SignatureError, match="does not verify"):
        verify_bytes(b"data", signature, [Ed25519PrivateKey.generate().public_key()])
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(SignatureError, match="does not verify"):
        verify_bytes(b"data", flipped, [key.public_key()])
    with pytest.raises(SignatureError, match="64"):
        verify_bytes(b"data", signature[:-1], [key.public_key()])
    with pytest.raises(SignatureError, match="no trusted public keys"):
        verify_bytes(b"data", signature, [])


def test_signature_error_is_a_dda_invalid_input() -> None:
    error = SignatureError("x")
    assert isinstance(error, InvalidInput) and isinstance(error, DDAError)
    assert error.code == "signature_invalid"


# --------------------------------------------------------------------------- canonical JSON


def test_canonical_json_is_order_independent_and_compact() -> None:
    a = {"b": 1, "a": {"y": [1, 2], "x": "é"}}
    b = {"a": {"x": "é", "y": [1, 2]}, "b": 1}
    assert canonical_json(a) == canonical_json(b) == '{"a":{"x":"é","y":[1,2]},"b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan})


# --------------------------------------------------------------------------- manifests


def test_build_manifest_lists_every_file_sorted_with_hash_and_size(package: Path) -> None:
    manifest = build_manifest(package)
    files = manifest["files"]
    assert (
        list(files)
        == sorted(files)
        == [
            ".hidden",
            "config.json",
            "empty.txt",
            "model/model.onnx",
            "model/nested/deeper/labels.txt",
        ]
    )
    onnx = (package / "model" / "model.onnx").read_bytes()
    assert files["model/model.onnx"] == {"sha256": hashlib.sha256(onnx).hexdigest(), "size": len(onnx)}
    assert files["empty.txt"] == {"sha256": hashlib.sha256(b"").hexdigest(), "size": 0}
    assert manifest["format"] == "dda-manifest/1" and manifest["exclude"] == []


def test_build_manifest_exclusions(package: Path) -> None:
    (package / "cache").mkdir()
    (package / "cache" / "tmp.bin").write_bytes(b"x")
    (package / "model" / "scratch.tmp").write_bytes(b"x")
    manifest = build_manifest(package, exclude=["cache", "*.tmp"])
    assert "cache/tmp.bin" not in manifest["files"] and "model/scratch.tmp" not in manifest["files"]
    assert manifest["exclude"] == ["*.tmp", "cache"]


def test_build_manifest_refuses_symlinks(package: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("outside")
    (package / "link.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(InvalidInput, match="symlink"):
        build_manifest(package)


def test_build_manifest_of_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        build_manifest(tmp_path / "nope")


# --------------------------------------------------------------------------- signed directories


def test_sign_and_verify_directory(package: Path, key: Ed25519PrivateKey) -> None:
    manifest = sign_directory(package, key)
    assert (package / MANIFEST_NAME).read_bytes() == canonical_json(manifest)
    signature_doc = json.loads((package / SIGNATURE_NAME).read_bytes())
    assert signature_doc["algorithm"] == "ed25519" and signature_doc["key"] == public_key_fingerprint(key)
    assert MANIFEST_NAME not in manifest["files"] and SIGNATURE_NAME not in manifest["files"]
    other_trusted = Ed25519PrivateKey.generate().public_key()
    assert verify_directory(package, [other_trusted, key.public_key()]) == manifest


def test_resigning_after_a_change_verifies_again(package: Path, key: Ed25519PrivateKey) -> None:
    sign_directory(package, key)
    (package / "config.json").write_text('{"threshold": 0.7}')
    with pytest.raises(SignatureError):
        verify_directory(package, [key.public_key()])
    sign_directory(package, key)
    verify_directory(package, [key.public_key()])


def test_added_file_fails(package: Path, key: Ed25519PrivateKey) -> None:
    sign_directory(package, key)
    (package / "model" / "backdoor.py").write_text("import os")
    with pytest.raises(SignatureError, match=r"added: model/backdoor\.py"):
        verify_directory(package, [key.public_key()])


def test_added_file_in_a_new_folder_fails(package: Path, key: Ed25519PrivateKey) -> None:
    sign_directory(package, key)
    (package / "new").mkdir()
    (package / "new" / "x").write_text("x")
    with pytest.raises(SignatureError, match="added: new/x"):
        verify_directory(package, [key.public_key()])


def test_missing_file_fails(package: Path, key: Ed25519PrivateKey) -> None:
    sign_directory(package, key)
    (package / "model" / "nested" / "deeper" / "labels.txt").unlink()
    with pytest.raises(SignatureError, match=r"missing: model/nested/deeper/labels\.txt"):
        verify_directory(package, [key.public_key()])


def test_changed_file_of_same_size_fails(package: Path, key: Ed25519PrivateKey) -> None:
    sign_directory(package, key)
    path = package / "model" / "model.onnx"
    data = bytearray(path.read_bytes())
    data[500] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SignatureError, match=r"changed: model/model\.onnx"):
        verify_directory(package, [key.public_key()])


def test_all_differences_are_reported_together(package: Path, key: Ed25519PrivateKey) -> None:
    sign_directory(package, key)
    (package / "extra").write_text("x")
    (package / "empty.txt").unlink()
    (package / ".hidden").write_text("changed size")
    with pytest.raises(SignatureError, match=r"3 file.*added: extra; missing: empty\.txt; changed: \.hidden"):
        verify_directory(package, [key.public_key()])


def test_symlink_added_after_signing_fails(package: Path, key: Ed25519PrivateKey) -> None:
    sign_directory(package, key)
    (package / "link").symlink_to("config.json")
    with pytest.raises(SignatureError, match="symlink"):
        verify_directory(package, [key.public_key()])


def test_untrusted_signer_fails(package: Path, key: Ed25519PrivateKey) -> None:
    sign_directory(package, key)
    trusted = Ed25519PrivateKey.generate()
    with pytest.raises(SignatureError, match="not trusted") as info:
        verify_directory(package, [trusted.public_key()])
    assert public_key_fingerprint(key) in info.value.message


def test_claiming_a_trusted_key_in_the_signature_file_fails(package: Path, key: Ed25519PrivateKey) -> None:
    """An attacker re-signs with their own key and names the trusted key's fingerprint."""
    sign_directory(package, key)
    attacker = Ed25519PrivateKey.generate()
    (package / "config.json").write_text('{"threshold": 0.0}')
    sign_directory(package, attacker)
    doc = json.loads((package / SIGNATURE_NAME).read_bytes())
    doc["key"] = public_key_fingerprint(key)
    (package / SIGNATURE_NAME).write_bytes(canonical_json(doc))
    with pytest.raises(SignatureError, match="does not verify"):
        verify_directory(package, [key.public_key()])


def test_edited_manifest_fails_signature(package: Path, key: Ed25519PrivateKey) -> None:
    """Hiding a changed file by editing its hash in the manifest breaks the signature."""
    sign_directory(package, key)
    (package / "config.json").write_text('{"threshold": 0.9}')
    manifest = json.loads((package / MANIFEST_NAME).read_bytes())
    manifest["files"]["config.json"] = build_manifest(package)["files"]["config.json"]
    (package / MANIFEST_NAME).write_bytes(canonical_json(manifest))
    with pytest.raises(SignatureError, match="does not verify"):
        verify_directory(package, [key.public_key()])


def test_widening_the_signed_exclusions_fails_signature(package: Path, key: Ed25519PrivateKey) -> None:
    sign_directory(package, key, exclude=["*.log"])
    (package / "run.log").write_text("excluded files may change freely")
    verify_directory(package, [key.public_key()])
    manifest = json.loads((package / MANIFEST_NAME).read_bytes())
    manifest["exclude"].append("model/*")
    (package / MANIFEST_NAME).write_bytes(canonical_json(manifest))
    with pytest.raises(SignatureError, match="does not verify"):
        verify_directory(package, [key.public_key()])


def test_corrupt_signature_fails(package: Path, key: Ed25519PrivateKey) -> None:
    sign_directory(package, key)
    doc = json.loads((package / SIGNATURE_NAME).read_bytes())
    raw = bytearray(base64.b64decode(doc["signature"]))
    raw[10] ^= 0x01
    doc["signature"] = base64.b64encode(bytes(raw)).decode()
    (package / SIGNATURE_NAME).write_bytes(canonical_json(doc))
    with pytest.raises(SignatureError, match="does not verify"):
        verify_directory(package, [key.public_key()])


@pytest.mark.parametrize(
    "content",
    [b"not json", b'{"algorithm":"ed25519"}', b'{"algorithm":"rsa","key":"k","signature":""}', b"[]"],
)
def test_malformed_signature_file_fails(content: bytes, package: Path, key: Ed25519PrivateKey) -> None:
    sign_directory(package, key)
    (package / SIGNATURE_NAME).write_bytes(content)
    with pytest.raises(SignatureError):
        verify_directory(package, [key.public_key()])


@pytest.mark.parametrize("name", [MANIFEST_NAME, SIGNATURE_NAME])
def test_unsigned_directory_fails(name: str, package: Path, key: Ed25519PrivateKey) -> None:
    sign_directory(package, key)
    (package / name).unlink()
    with pytest.raises(SignatureError, match=f"not signed: {name} is missing"):
        verify_directory(package, [key.public_key()])


def test_verify_without_trusted_keys_fails(package: Path, key: Ed25519PrivateKey) -> None:
    sign_directory(package, key)
    with pytest.raises(SignatureError, match="no trusted public keys"):
        verify_directory(package, [])


def test_trusted_keys_may_be_pem(package: Path, tmp_path: Path) -> None:
    private_pem, public_pem = generate_keypair()
    sign_directory(package, private_pem)
    verify_directory(package, [public_pem])
    verify_directory(package, [load_public_key(save_public_key(public_pem, tmp_path / "trusted.pub.pem"))])


def test_oversized_signature_file_is_refused_unread(package: Path, key: Ed25519PrivateKey) -> None:
    sign_directory(package, key)
    (package / SIGNATURE_NAME).write_bytes(b" " * (65 * 1024))
    with pytest.raises(SignatureError, match="larger than 65,536 bytes"):
        verify_directory(package, [key.public_key()])
