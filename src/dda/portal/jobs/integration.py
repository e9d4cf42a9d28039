"""Where jobs meet the datasets and registry services (``dda.portal.services.datasets`` /
``.registry``): references in, files out, and trained models and packages recorded.

A dataset reference is a dataset version id (materialised by the datasets service) or a folder of
the use case's store holding a manifest and the files it names relative to itself. A model
reference is a registry version id or the store key of a ``model.tar.gz``. The folder and key
forms keep the job machinery usable (and testable) on its own; both stay inside the use case's
store, whose key rules refuse ``..`` and absolute keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from dda.portal.jobs.context import JobContext
from dda.portal.jobs.models import JobFailed
from dda.portal.schemas.common import Strict
from dda.portal.services import datasets, registry

MANIFEST_NAMES = ("manifest.jsonl", "dda.manifest", "groundtruth.manifest", "output.manifest")
MAX_FILES = 200_000
StoreKey = Field(default=None, min_length=1, max_length=512, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


class DatasetRef(Strict):
    version_id: str | None = Field(default=None, min_length=1, max_length=64)
    store_prefix: str | None = StoreKey
    manifest: str | None = Field(default=None, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

    @model_validator(mode="after")
    def _one(self) -> DatasetRef:
        if (self.version_id is None) == (self.store_prefix is None):
            raise ValueError("name exactly one of version_id or store_prefix")
        return self


class ModelRef(Strict):
    version_id: str | None = Field(default=None, min_length=1, max_length=64)
    artifact_key: str | None = StoreKey
    model_name: str | None = Field(default=None, max_length=63)

    @model_validator(mode="after")
    def _one(self) -> ModelRef:
        if (self.version_id is None) == (self.artifact_key is None):
            raise ValueError("name exactly one of version_id or artifact_key")
        return self


def materialize(ctx: JobContext, ref: DatasetRef, dest: Path) -> Path:
    """Write the dataset's images and manifest under ``dest``; return the manifest path."""
    dest.mkdir(parents=True, exist_ok=True)
    if ref.version_id is not None:
        with ctx.portal.session() as session:
            path: Path = datasets.materialize_version(
                session, ctx.portal, ctx.usecase_id, ref.version_id, dest
            )
            return path
    prefix = (ref.store_prefix or "").rstrip("/") + "/"
    store = ctx.store()
    keys = store.list(prefix)[:MAX_FILES]
    if not keys:
        raise JobFailed(f"the store folder {prefix} is empty", hint="upload the dataset first")
    for key in keys:
        store.get_file(key, dest / key[len(prefix) :])
    names = (ref.manifest,) if ref.manifest else MANIFEST_NAMES
    for name in names:
        if (dest / name).is_file():
            return dest / name
    raise JobFailed(f"no manifest ({', '.join(names)}) in {prefix}", hint="name the manifest file")


def register_model(
    ctx: JobContext, artifact: Path, model_name: str, lineage: dict[str, Any]
) -> dict[str, Any]:
    """Put the trained artifact in the use case's model registry as a new version."""
    with ctx.portal.session() as session:
        version = registry.register_version(
            session, ctx.portal, ctx.usecase_id, model_name, artifact, source="trained", lineage=lineage
        )
        return {"version_id": version.id, "model_name": model_name}


def fetch_model(ctx: JobContext, ref: ModelRef, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    if ref.version_id is not None:
        with ctx.portal.session() as session:
            path: Path = registry.fetch_artifact(
                session, ctx.portal, ctx.usecase_id, ref.version_id, dest_dir
            )
            return path
    assert ref.artifact_key is not None
    store = ctx.store()
    if not store.exists(ref.artifact_key):
        raise JobFailed("the model artifact is not in the use case's store", hint="check the model reference")
    return store.get_file(ref.artifact_key, dest_dir / "model.tar.gz")


def add_package(
    ctx: JobContext,
    ref: ModelRef,
    *,
    target: str,
    precision: str,
    key: str,
    sha256: str,
    report: dict[str, Any],
) -> str | None:
    """Tell the registry about a built package (None for a bare artifact, which has no version)."""
    from dda.packaging.manifest import TARGETS

    if ref.version_id is None:
        return None
    if target not in TARGETS:  # x86_64-cuda: the x86_64 file, recorded as its component only
        ctx.log(f"the registry records no {target} packages; the component holds it")
        return None
    with ctx.portal.session() as session:
        package = registry.add_package(
            session,
            ctx.portal,
            ctx.usecase_id,
            ref.version_id,
            target=target,
            precision=precision,
            package_key=key,
            sha256=sha256,
            report=report,
        )
        return str(package.id)
