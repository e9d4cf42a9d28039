"""Model packages: Triton-layout model repositories with a signed manifest (no torch needed).

Public API::

    build_package(exported_dir_or_onnx, config, out_dir, signing_key, *, name, version) -> Path
    archive_package(package_dir, archive_path=None) -> Path            # reproducible .tar.gz
    verify_package(dir_or_archive, trusted_public_keys) -> PackageManifest
    install_package(archive, model_repo_dir, trusted_keys) -> InstalledModel
    read_manifest(package_dir) -> PackageManifest                      # no signature check
    trusted_public_keys(paths=None), default_key_store()               # key locations
"""

from dda.packaging.builder import build_package
from dda.packaging.exported import ExportInfo, read_export
from dda.packaging.install import InstalledModel, archive_package, install_package, uninstall_package
from dda.packaging.keys import default_key_dir, default_key_store, trusted_public_keys
from dda.packaging.manifest import TARGETS, PackageManifest, TritonLayout, read_manifest
from dda.packaging.verify import verify_package

__all__ = [
    "TARGETS",
    "ExportInfo",
    "InstalledModel",
    "PackageManifest",
    "TritonLayout",
    "archive_package",
    "build_package",
    "default_key_dir",
    "default_key_store",
    "install_package",
    "read_export",
    "read_manifest",
    "trusted_public_keys",
    "uninstall_package",
    "verify_package",
]
