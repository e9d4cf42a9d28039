"""Publishing: each signed package becomes a model component in the registry (name, semantic
version, platform, dependency on the station software, default configuration and schema)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dda.portal.db import Component
from dda.portal.jobs import integration
from dda.portal.jobs.context import JobContext
from dda.portal.jobs.models import JobFailed
from dda.portal.schemas.common import Strict
from dda.portal.services import components as components_service


class PackageRef(Strict):
    name: str = Field(max_length=63)
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    target: str = Field(max_length=32)
    precision: str = Field(max_length=8)
    key: str = Field(max_length=512, pattern=r"^packages/[A-Za-z0-9._/-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    signing_key: str = Field(max_length=128)
    registry_package_id: str | None = None


class PublishingParams(Strict):
    model: integration.ModelRef
    packages: list[PackageRef] = Field(min_length=1, max_length=20)


def run(ctx: JobContext, params: PublishingParams) -> dict[str, Any]:
    store = ctx.store()
    published = []
    for package in params.packages:
        if not store.exists(package.key):
            raise JobFailed(f"package {package.name} {package.version} is missing", "package again")
        with ctx.portal.session() as session:
            row = components_service.add(
                session,
                Component(
                    usecase_id=ctx.usecase_id,
                    kind="model",
                    name=package.name,
                    version=package.version,
                    platform=components_service.PLATFORM_OF.get(package.target, package.target),
                    dependencies=components_service.station_dependency(),
                    default_config=components_service.model_default_config(package.target),
                    config_schema=components_service.MODEL_CONFIG_SCHEMA,
                    model_ref={
                        **params.model.model_dump(exclude_none=True),
                        "target": package.target,
                        "precision": package.precision,
                    },
                    package_key=package.key,
                    package_sha256=package.sha256,
                    signing_key_fingerprint=package.signing_key,
                    job_id=ctx.job_id,
                    created_by=ctx.created_by,
                ),
            )
            published.append(
                {"id": row.id, "name": row.name, "version": row.version, "platform": row.platform}
            )
        ctx.log(f"component {package.name} {package.version} published")
    return {"components": published}
