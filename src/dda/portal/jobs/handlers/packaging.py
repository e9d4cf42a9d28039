"""Packaging: each export becomes a signed Triton-layout package (``dda.packaging.build_package``)
signed with the use case's active key, archived into the use case's ``packages/``, and recorded
in the registry. The version is the next free semantic version of the model's components."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dda.core.signing import file_sha256
from dda.portal.jobs import integration
from dda.portal.jobs.context import JobContext
from dda.portal.schemas.common import Strict
from dda.portal.services import components as components_service
from dda.portal.services import signing_keys


class ExportRef(Strict):
    target: str = Field(max_length=32)
    precision: str = Field(max_length=8)
    prefix: str = Field(max_length=512, pattern=r"^models/[A-Za-z0-9._/-]+$")
    parity: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list, max_length=10)  # what compilation said about it


class PackagingParams(Strict):
    model: integration.ModelRef
    exports: list[ExportRef] = Field(min_length=1, max_length=20)
    version: str | None = Field(default=None, pattern=r"^\d+\.\d+\.\d+$")


def package_name(model_name: str, target: str, precision: str) -> str:
    suffix = "" if precision == "fp32" else f"-{precision}"
    return f"model-{model_name}-{target}{suffix}"[:63].lower()


def run(ctx: JobContext, params: PackagingParams) -> dict[str, Any]:
    from dda.packaging import archive_package, build_package

    model_name = params.model.model_name or "model"
    with ctx.portal.session() as session:
        key_row = signing_keys.active_key(session, ctx.portal, ctx.usecase_id)
        private = signing_keys.private_key(ctx.portal, key_row)
        fingerprint = key_row.fingerprint
        version = params.version or components_service.next_version(
            session, ctx.usecase_id, [package_name(model_name, e.target, e.precision) for e in params.exports]
        )
    store = ctx.store()
    packages = []
    for index, export in enumerate(params.exports):
        ctx.check_stop()
        ctx.progress(5 + 90 * index / len(params.exports), f"packaging {export.target} {export.precision}")
        local = ctx.workdir / "exports" / f"{export.target}-{export.precision}"
        for key in store.list(export.prefix + "/"):
            store.get_file(key, local / key[len(export.prefix) + 1 :])
        name = package_name(model_name, export.target, export.precision)
        built = build_package(
            local, None, ctx.workdir / "packages" / name, private, name=name, version=version
        )
        archive = archive_package(built, ctx.workdir / f"{name}-{version}.tar.gz")
        key = f"packages/{name}/{version}/{name}-{version}.tar.gz"
        store.put_file(key, archive, "application/gzip")
        sha = file_sha256(archive)
        registry_id = integration.add_package(
            ctx,
            params.model,
            target=export.target,
            precision=export.precision,
            key=key,
            sha256=sha,
            report=export.parity,
        )
        ctx.log(f"package {name} {version} signed with key {fingerprint[:16]}")
        packages.append(
            {
                "name": name,
                "version": version,
                "target": export.target,
                "precision": export.precision,
                "key": key,
                "sha256": sha,
                "signing_key": fingerprint,
                "registry_package_id": registry_id,
            }
        )
    return {"model": params.model.model_dump(exclude_none=True), "packages": packages}
