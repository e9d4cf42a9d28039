"""Where package signing keys live: ``<data_dir>/keys`` (own key pair) and ``<data_dir>/keys/trusted``.

The portal (or a developer) signs packages with its private key; a station trusts the public keys
in its ``trusted`` folder, plus its own public key so locally built packages install too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from dda.core.errors import NotFound
from dda.core.settings import get_settings
from dda.core.signing import KeyStore, load_public_key

TRUSTED_DIR = "trusted"


def default_key_dir() -> Path:
    return Path(get_settings().data_dir) / "keys"


def default_key_store() -> KeyStore:
    return KeyStore(default_key_dir())


def _keys_in(path: Path) -> list[Ed25519PublicKey]:
    if path.is_dir():
        return [load_public_key(p) for p in sorted(path.glob("*.pem")) if p.is_file()]
    return [load_public_key(path)]


def trusted_public_keys(paths: Sequence[Path] | None = None) -> list[Ed25519PublicKey]:
    """Public keys from ``paths`` (files or folders of ``*.pem``), or by default the own public key
    plus every key in ``<data_dir>/keys/trusted``. NotFound when there is none at all."""
    keys: list[Ed25519PublicKey] = []
    if paths:
        for path in paths:
            if not Path(path).exists():
                raise NotFound(f"public key {path} does not exist", hint="check the --public-key path")
            keys += _keys_in(Path(path))
    else:
        store = default_key_store()
        if store.public_key_path.is_file():
            keys.append(load_public_key(store.public_key_path))
        trusted = default_key_dir() / TRUSTED_DIR
        if trusted.is_dir():
            keys += _keys_in(trusted)
    if not keys:
        raise NotFound(
            "no trusted public keys found",
            hint="pass --public-key PATH, or put the signer's public key in "
            f"{default_key_dir() / TRUSTED_DIR}",
        )
    return keys
