"""Model registry routes: models and versions of a use case, metrics/plots, stage, compare,
upload of an externally trained model.tar.gz, ONNX import (bring your own model), packages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import Access, PortalDep, SessionDep, require
from dda.portal.api.errors import PayloadTooLarge
from dda.portal.context import Portal
from dda.portal.db import ModelPackage, ModelStageChange, ModelVersion, RegisteredModel
from dda.portal.permissions import Permission
from dda.portal.repositories import registry as repo
from dda.portal.schemas.common import Limit, Page
from dda.portal.schemas.models import (
    CompareOut,
    MetricRow,
    ModelOut,
    OnnxImportRequest,
    OnnxInspectOut,
    PackageOut,
    StageChangeOut,
    StageRequest,
    StageResult,
    VersionDetail,
    VersionOut,
)
from dda.portal.services import byom, registry
from dda.portal.services.audit import AuditEntry

router = APIRouter(prefix="/api/v1/usecases/{usecase_id}/models", tags=["models"])
IdPath = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
ModelName = Annotated[str, Query(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


def version_out(session: Session, row: ModelVersion, model: RegisteredModel | None = None) -> VersionOut:
    model = model or session.get(RegisteredModel, row.model_id)
    threshold = row.config.get("threshold")
    return VersionOut(
        id=row.id,
        model_id=row.model_id,
        model_name=model.name if model else "",
        version=row.version,
        stage=row.stage,
        source=row.source,
        description=row.description,
        model_type=row.model_type,
        backbone=row.backbone,
        artifact_sha256=row.artifact_sha256,
        artifact_bytes=row.artifact_bytes,
        input_size=row.config.get("input_size"),
        class_names=list(row.config.get("class_names") or []),
        threshold=float(threshold) if isinstance(threshold, int | float) else None,
        metrics=row.metrics,
        plots=list(row.plots),
        lineage=row.lineage,
        created_by=row.created_by,
        created_at=row.created_at,
        stage_changed_at=row.stage_changed_at,
    )


def package_out(row: ModelPackage) -> PackageOut:
    return PackageOut(
        id=row.id,
        version_id=row.version_id,
        target=row.target,
        precision=row.precision,
        package_key=row.package_key,
        sha256=row.sha256,
        report=row.report,
        created_at=row.created_at,
    )


def history_out(row: ModelStageChange) -> StageChangeOut:
    return StageChangeOut(
        from_stage=row.from_stage, to_stage=row.to_stage, actor_id=row.actor_id, reason=row.reason, at=row.at
    )


def model_out(
    session: Session, model: RegisteredModel, latest: ModelVersion | None, production: ModelVersion | None
) -> ModelOut:
    return ModelOut(
        id=model.id,
        name=model.name,
        description=model.description,
        model_type=model.model_type,
        created_at=model.created_at,
        updated_at=model.updated_at,
        latest_version=version_out(session, latest, model) if latest else None,
        production_version=version_out(session, production, model) if production else None,
    )


async def receive_upload(request: Request, dest: Path, max_bytes: int) -> int:
    """Stream the request body to ``dest``; refuse (413) past ``max_bytes`` without buffering it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(
            f"the upload is {int(declared)} bytes; the limit is {max_bytes >> 20} MiB",
            hint="raise portal.max_model_upload_mb or upload a smaller file",
        )
    total = 0
    with dest.open("wb") as handle:
        async for chunk in request.stream():
            total += len(chunk)
            if total > max_bytes:
                raise PayloadTooLarge(
                    f"the upload is larger than {max_bytes >> 20} MiB",
                    hint="raise portal.max_model_upload_mb or upload a smaller file",
                )
            handle.write(chunk)
    if total == 0:
        from dda.core.errors import InvalidInput

        raise InvalidInput("the upload is empty", hint="send the file as the request body")
    return total


def upload_limit(portal: Portal) -> int:
    return portal.settings.portal.max_model_upload_mb << 20


@router.get("", response_model=Page[ModelOut])
def list_models(
    usecase_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_VIEW))],
    cursor: Annotated[str | None, Query(max_length=63)] = None,
    limit: Limit = 100,
) -> Page[ModelOut]:
    rows = repo.models(session, usecase_id, after=cursor, limit=limit + 1)
    page = rows[:limit]
    ids = [m.id for m in page]
    latest, production = repo.latest_versions(session, ids), repo.production_versions(session, ids)
    items = [model_out(session, m, latest.get(m.id), production.get(m.id)) for m in page]
    return Page(items=items, next_cursor=page[-1].name if len(rows) > limit else None)


@router.post("/upload", response_model=VersionOut, status_code=201)
async def upload_model(
    usecase_id: str,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_WRITE))],
    name: ModelName,
    description: Annotated[str, Query(max_length=500)] = "",
) -> VersionOut:
    """Register an externally trained model.tar.gz (the request body, application/gzip)."""
    scratch = await run_in_threadpool(registry.scratch_dir, portal)
    try:
        path = scratch / registry.ARTIFACT_FILE
        await receive_upload(request, path, upload_limit(portal))
        version = await run_in_threadpool(
            registry.register_version,
            session,
            portal,
            usecase_id,
            name,
            path,
            source="upload",
            lineage={"uploaded_by": access.principal.username},
            created_by=access.principal.user_id,
            description=description,
        )
    finally:
        await run_in_threadpool(registry.remove_scratch, scratch)
    record(
        request,
        AuditEntry(
            action="model.upload",
            target_type="model_version",
            target_id=version.id,
            summary={"model": name, "version": version.version, "sha256": version.artifact_sha256},
        ),
    )
    return version_out(session, version)


@router.post("/onnx/inspect", response_model=OnnxInspectOut)
async def inspect_onnx(
    usecase_id: str,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_WRITE))],
) -> OnnxInspectOut:
    """Bring your own model, step 1: upload an ONNX file (the request body); get the inferred spec."""
    scratch = await run_in_threadpool(registry.scratch_dir, portal)
    try:
        path = scratch / "upload.onnx"
        await receive_upload(request, path, upload_limit(portal))
        result = await run_in_threadpool(byom.inspect_upload, session, portal, usecase_id, path)
    finally:
        await run_in_threadpool(registry.remove_scratch, scratch)
    record(
        request,
        AuditEntry(
            action="model.onnx_inspect",
            target_type="onnx_upload",
            target_id=result["import_id"],
            summary={"sha256": result["sha256"], "problems": len(result["problems"])},
        ),
    )
    return OnnxInspectOut(**result)


@router.post("/onnx/import", response_model=VersionOut, status_code=201)
def import_onnx(
    usecase_id: str,
    body: OnnxImportRequest,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_WRITE))],
) -> VersionOut:
    """Bring your own model, step 2: import the inspected file with the confirmed spec."""
    version = byom.import_upload(
        session,
        portal,
        usecase_id,
        body.import_id,
        body.name,
        body.spec,
        actor_id=access.principal.user_id,
        description=body.description,
        dataset_version_id=body.dataset_version_id,
    )
    record(
        request,
        AuditEntry(
            action="model.onnx_import",
            target_type="model_version",
            target_id=version.id,
            summary={
                "model": body.name,
                "version": version.version,
                "onnx": version.lineage.get("onnx_sha256"),
            },
        ),
    )
    return version_out(session, version)


@router.get("/compare", response_model=CompareOut)
def compare_versions(
    usecase_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_VIEW))],
    a: IdPath,
    b: IdPath,
) -> CompareOut:
    result = registry.compare(session, usecase_id, a, b)
    return CompareOut(
        a=version_out(session, result["a"]),
        b=version_out(session, result["b"]),
        metrics=[MetricRow(**row) for row in result["metrics"]],
        config_differences=result["config_differences"],
    )


@router.get("/versions/{version_id}", response_model=VersionDetail)
def get_version(
    usecase_id: str,
    version_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_VIEW))],
) -> VersionDetail:
    row = registry.get_version(session, usecase_id, version_id)
    return VersionDetail(
        **version_out(session, row).model_dump(),
        config=row.config,
        history=[history_out(h) for h in repo.stage_history(session, usecase_id, row.id)],
        packages=[package_out(p) for p in repo.packages(session, usecase_id, row.id)],
    )


@router.get("/versions/{version_id}/metrics")
def get_metrics(
    usecase_id: str,
    version_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_VIEW))],
) -> dict[str, object]:
    return dict(registry.get_version(session, usecase_id, version_id).metrics)


@router.get("/versions/{version_id}/plots/{plot}", response_class=Response)
def get_plot(
    usecase_id: str,
    version_id: str,
    plot: str,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_VIEW))],
) -> Response:
    data = registry.plot_png(session, portal, usecase_id, version_id, plot.removesuffix(".png"))
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.get("/versions/{version_id}/artifact")
def download_artifact(
    usecase_id: str,
    version_id: str,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_VIEW))],
) -> StreamingResponse:
    row = registry.get_version(session, usecase_id, version_id)
    handle = registry.usecase_store(session, portal, usecase_id).open(row.artifact_key)

    def chunks() -> object:
        with handle:
            while chunk := handle.read(1 << 20):
                yield chunk

    filename = f"{version_out(session, row).model_name}-v{row.version}.tar.gz"
    return StreamingResponse(
        chunks(),  # type: ignore[arg-type]
        media_type="application/gzip",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Checksum-SHA256": row.artifact_sha256,
        },
    )


@router.get("/versions/{version_id}/history", response_model=list[StageChangeOut])
def get_history(
    usecase_id: str,
    version_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_VIEW))],
) -> list[StageChangeOut]:
    row = registry.get_version(session, usecase_id, version_id)
    return [history_out(h) for h in repo.stage_history(session, usecase_id, row.id)]


@router.get("/versions/{version_id}/packages", response_model=list[PackageOut])
def list_packages(
    usecase_id: str,
    version_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_VIEW))],
) -> list[PackageOut]:
    row = registry.get_version(session, usecase_id, version_id)
    return [package_out(p) for p in repo.packages(session, usecase_id, row.id)]


@router.put("/versions/{version_id}/stage", response_model=StageResult)
def change_stage(
    usecase_id: str,
    version_id: str,
    body: StageRequest,
    request: Request,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_WRITE))],
) -> StageResult:
    changed = registry.set_stage(
        session,
        usecase_id,
        version_id,
        body.stage,
        actor_id=access.principal.user_id,
        reason=body.reason,
        demote_to=body.demote_to,
    )
    summary = [{"version_id": v.id, "version": v.version, "from": old, "to": v.stage} for v, old in changed]
    for item in summary:
        record(
            request,
            AuditEntry(
                action="model.stage",
                target_type="model_version",
                target_id=str(item["version_id"]),
                summary={
                    "version": item["version"],
                    "from": item["from"],
                    "to": item["to"],
                    "reason": body.reason,
                },
            ),
        )
    return StageResult(version=version_out(session, changed[0][0]), changed=summary)


@router.delete("/versions/{version_id}", status_code=204)
def delete_version(
    usecase_id: str,
    version_id: str,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_DELETE))],
) -> None:
    row = registry.delete_version(session, portal, usecase_id, version_id)
    record(
        request,
        AuditEntry(
            action="model.delete_version",
            target_type="model_version",
            target_id=row.id,
            summary={"version": row.version, "sha256": row.artifact_sha256},
        ),
    )


@router.get("/{model_id}", response_model=ModelOut)
def get_model(
    usecase_id: str,
    model_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_VIEW))],
) -> ModelOut:
    model = registry.get_model(session, usecase_id, model_id)
    latest = repo.latest_versions(session, [model.id]).get(model.id)
    return model_out(session, model, latest, repo.production_versions(session, [model.id]).get(model.id))


@router.get("/{model_id}/versions", response_model=Page[VersionOut])
def list_versions(
    usecase_id: str,
    model_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.MODEL_VIEW))],
    cursor: Annotated[int | None, Query(ge=1)] = None,
    stage: Annotated[str | None, Query(pattern="^(candidate|staging|production|archived)$")] = None,
    limit: Limit = 100,
) -> Page[VersionOut]:
    model = registry.get_model(session, usecase_id, model_id)
    rows = repo.versions(session, usecase_id, model.id, before=cursor, limit=limit + 1, stage=stage)
    page = rows[:limit]
    return Page(
        items=[version_out(session, r, model) for r in page],
        next_cursor=str(page[-1].version) if len(rows) > limit else None,
    )
