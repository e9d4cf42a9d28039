"""`dda package`: build, verify and sign Triton-layout model packages; manage signing keys.

    dda package EXPORTED --name NAME --version VERSION -o OUT [--key PATH] [--archive]
    dda package verify PKG [--public-key PATH ...]
    dda package keygen [--dir DIR] [--force]

``dda package EXPORTED ...`` is short for ``dda package build EXPORTED ...``. Keys default to
``<data_dir>/keys``; verification trusts the own public key plus ``<data_dir>/keys/trusted/*.pem``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from dda.cli._common import handle_errors
from dda.core.errors import InvalidInput

console = Console()


class _DefaultBuildGroup(TyperGroup):
    """Treat ``dda package SOMETHING`` as ``dda package build SOMETHING`` unless it names a command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: the click Context typer vendors
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["build", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultBuildGroup,
    help="Build (`dda package EXPORTED ...`), verify and sign model packages.",
    no_args_is_help=True,
)


def _signing_key(key: Path | None) -> Any:
    from dda.core.signing import load_or_create_signing_key, load_private_key
    from dda.packaging import default_key_dir

    if key is not None:
        return load_private_key(key)
    created = not (default_key_dir() / "signing-key.pem").exists()
    private = load_or_create_signing_key(default_key_dir())
    if created:
        console.print(f"created a signing key in {default_key_dir()}")
    return private


@app.command("build")
@handle_errors
def build(
    exported: Annotated[Path, typer.Argument(help="A `dda export` output folder (or a bare .onnx).")],
    name: Annotated[str, typer.Option("--name", help="Model name: lowercase letters, digits, - and _.")],
    version: Annotated[str, typer.Option("--version", help="Package version, e.g. 1.0.0.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Package folder to create.")],
    key: Annotated[
        Path | None, typer.Option("--key", help="Ed25519 private key PEM (default: <data_dir>/keys).")
    ] = None,
    archive: Annotated[bool, typer.Option("--archive", help="Also write <name>-<version>.tar.gz.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing archive of that name.")] = False,
) -> None:
    """Build a signed Triton-layout package from an export."""
    from dda.packaging import archive_package, build_package, read_manifest

    target = out.parent / f"{name}-{version}.tar.gz"
    if archive and target.exists() and not overwrite:  # refuse before building anything
        raise InvalidInput(
            f"archive {target.name} already exists",
            hint="bump --version, remove the old archive, or pass --overwrite",
        )
    package = build_package(exported, None, out, _signing_key(key), name=name, version=version)
    manifest = read_manifest(package)
    console.print(
        f"package {manifest.name} {manifest.version} ({manifest.model_type}, {manifest.target}, "
        f"{manifest.precision}) written to {package}"
    )
    if archive:
        console.print(f"archive: {archive_package(package, overwrite=overwrite)}")


@app.command("verify")
@handle_errors
def verify(
    package: Annotated[Path, typer.Argument(help="A package folder or archive (.tar.gz).")],
    public_key: Annotated[
        list[Path] | None,
        typer.Option("--public-key", help="Trusted public key PEM or folder of them (repeatable)."),
    ] = None,
) -> None:
    """Verify a package's signature and every file; exits 1 when anything is off."""
    from dda.packaging import trusted_public_keys, verify_package

    manifest = verify_package(package, trusted_public_keys(public_key))
    console.print(
        f"OK: {manifest.name} {manifest.version} ({manifest.model_type}, {manifest.target}, "
        f"{manifest.precision}); signature valid, {len(manifest.files)} files match"
    )


@app.command("keygen")
@handle_errors
def keygen(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to keep the key pair (default: <data_dir>/keys).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key pair.")] = False,
) -> None:
    """Create an Ed25519 signing key pair (private key mode 0600)."""
    from dda.core.signing import KeyStore
    from dda.packaging import default_key_dir

    store = KeyStore(directory or default_key_dir())
    store.create(overwrite=force)
    console.print(f"private key: {store.private_key_path}")
    console.print(f"public key:  {store.public_key_path} (fingerprint {store.fingerprint()})")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="package")
