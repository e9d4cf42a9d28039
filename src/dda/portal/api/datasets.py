"""Dataset routes: create, list, versions from uploaded labels (with the validation report), stats,
items, export as Ground Truth / DDA / COCO / YOLO zip."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from dda.core.errors import InvalidInput
from dda.portal.api.audit_middleware import record
from dda.portal.api.data import bounded_stream, check_length
from dda.portal.api.deps import Access, PortalDep, SessionDep, require
from dda.portal.context import Portal
from dda.portal.db import DatasetRow, DatasetVersion
from dda.portal.permissions import Permission
from dda.portal.repositories import datasets as datasets_repo
from dda.portal.schemas.common import Limit, Page
from dda.portal.schemas.datasets import DatasetCreate, DatasetOut, ItemOut, VersionOut
from dda.portal.services import datasets as datasets_service
from dda.portal.services.audit import AuditEntry
from dda.portal.services.data import MB
from dda.portal.services.dataset_labels import LabelsInput, LabelsRejected
from dda.portal.services.uploads import temp_dir

router = APIRouter(prefix="/api/v1/usecases/{usecase_id}/datasets", tags=["datasets"])
MAX_MAPS = 20


def _dataset_out(session: SessionDep, row: DatasetRow) -> DatasetOut:
    latest = datasets_repo.latest_number(session, row.id)
    return DatasetOut(
        id=row.id,
        name=row.name,
        description=row.description,
        versions=datasets_repo.version_count(session, row.id),
        latest_version=latest or None,
        created_at=row.created_at,
    )


def version_out(row: DatasetVersion) -> VersionOut:
    return VersionOut(
        id=row.id,
        dataset_id=row.dataset_id,
        number=row.number,
        source=row.source,
        label_format=row.label_format,
        image_count=row.image_count,
        classes=row.classes,
        stats=row.stats,
        split=row.split,
        report=row.report,
        manifest_key=row.manifest_key,
        created_at=row.created_at,
    )


@router.get("", response_model=Page[DatasetOut])
def list_datasets(
    usecase_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATASET_VIEW))],
    cursor: Annotated[str | None, Query(max_length=63)] = None,
    limit: Limit = 100,
) -> Page[DatasetOut]:
    rows = datasets_repo.datasets(session, usecase_id, after=cursor, limit=limit + 1)
    items = [_dataset_out(session, r) for r in rows[:limit]]
    return Page(items=items, next_cursor=rows[limit - 1].name if len(rows) > limit else None)


@router.post("", response_model=DatasetOut, status_code=201)
def create_dataset(
    usecase_id: str,
    body: DatasetCreate,
    request: Request,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATASET_WRITE))],
) -> DatasetOut:
    row = datasets_service.create_dataset(
        session, usecase_id, body.name, body.description, access.principal.user_id
    )
    record(
        request,
        AuditEntry(
            action="dataset.create", target_type="dataset", target_id=row.id, summary={"name": row.name}
        ),
    )
    return _dataset_out(session, row)


@router.get("/{dataset_id}", response_model=DatasetOut)
def get_dataset(
    usecase_id: str,
    dataset_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATASET_VIEW))],
) -> DatasetOut:
    return _dataset_out(session, datasets_service.get_dataset(session, usecase_id, dataset_id))


@router.get("/{dataset_id}/versions", response_model=Page[VersionOut])
def list_versions(
    usecase_id: str,
    dataset_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATASET_VIEW))],
    cursor: Annotated[int | None, Query(ge=1)] = None,
    limit: Limit = 50,
) -> Page[VersionOut]:
    """Newest first; pass next_cursor (a version number) for older ones."""
    row = datasets_service.get_dataset(session, usecase_id, dataset_id)
    rows = datasets_repo.versions(session, row.id, before=cursor, limit=limit + 1)
    items = [version_out(r) for r in rows[:limit]]
    return Page(items=items, next_cursor=str(rows[limit - 1].number) if len(rows) > limit else None)


async def _labels_form(
    request: Request, portal: Portal, work: Path
) -> tuple[LabelsInput, datasets_service.SplitSpec]:
    cap = portal.settings.portal.max_upload_mb * MB
    check_length(request, cap)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("send the labels as multipart/form-data", hint="a 'labels' file part and fields")
    parser = MultiPartParser(request.headers, bounded_stream(request, cap), max_files=1, max_fields=40)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidInput(
            f"the multipart body is malformed: {exc.message}", hint="check the request"
        ) from exc
    try:
        labels = form.get("labels")
        if not isinstance(labels, UploadFile):
            raise InvalidInput(
                "the request has no 'labels' file", hint="attach the manifest / COCO JSON / YOLO zip"
            )
        path = work / "labels.upload"
        labels.file.seek(0)
        with path.open("wb") as out:
            await run_in_threadpool(shutil.copyfileobj, labels.file, out, MB)
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        maps = [v for k, v in form.multi_items() if k == "map" and isinstance(v, str)][:MAX_MAPS]
    finally:
        await form.close()
    mappings = {}
    for item in maps:
        prefix, sep, folder = item.partition("=")
        if not sep or not prefix:
            raise InvalidInput(
                f"map {item[:200]!r} is not PREFIX=FOLDER", hint="e.g. s3://bucket/cookies/=cookies"
            )
        mappings[prefix] = folder
    try:
        split = datasets_service.SplitSpec(
            seed=int(fields.get("seed", 0)),
            train=float(fields.get("train", 0.7)),
            val=float(fields.get("val", 0.15)),
            test=float(fields.get("test", 0.15)),
        ).check()
    except ValueError as exc:
        raise InvalidInput("seed must be an integer and train/val/test numbers", hint="e.g. seed=0") from exc
    label_format = fields.get("format", "gt")
    return LabelsInput(path, label_format, fields.get("images_folder", ""), mappings), split


def _create_version(
    portal: Portal,
    usecase_id: str,
    dataset_id: str,
    labels: LabelsInput,
    split: datasets_service.SplitSpec,
    work: Path,
    actor_id: str,
) -> VersionOut:
    with portal.session() as session:
        row = datasets_service.create_version_from_labels(
            session, portal, usecase_id, dataset_id, labels, split, work, actor_id
        )
        return version_out(row)


@router.post("/{dataset_id}/versions", response_model=VersionOut, status_code=201)
async def create_version(
    usecase_id: str,
    dataset_id: str,
    request: Request,
    portal: PortalDep,
    access: Annotated[Access, Depends(require(Permission.DATASET_WRITE))],
) -> JSONResponse:
    """A new immutable version from uploaded labels (multipart: ``labels`` file; fields ``format``
    = gt|dda|coco|yolo, ``images_folder``, repeatable ``map`` = PREFIX=FOLDER, ``seed``, ``train``,
    ``val``, ``test``) over images already uploaded. 422 with the validation report on errors."""
    work = temp_dir(portal)
    try:
        labels, split = await _labels_form(request, portal, work)
        out = await run_in_threadpool(
            _create_version, portal, usecase_id, dataset_id, labels, split, work, access.principal.user_id
        )
    except LabelsRejected as exc:
        body = {"detail": exc.message, "code": exc.code, "hint": exc.hint, "report": exc.report}
        return JSONResponse(body, status_code=422)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record(
        request,
        AuditEntry(
            action="dataset.version_create",
            target_type="dataset_version",
            target_id=out.id,
            summary={
                "dataset_id": dataset_id,
                "number": out.number,
                "images": out.image_count,
                "format": out.label_format,
            },
        ),
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@router.get("/{dataset_id}/versions/{version_id}", response_model=VersionOut)
def get_version(
    usecase_id: str,
    dataset_id: str,
    version_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATASET_VIEW))],
) -> VersionOut:
    return version_out(datasets_service.get_version(session, usecase_id, version_id, dataset_id))


@router.get("/{dataset_id}/versions/{version_id}/items", response_model=Page[ItemOut])
def list_items(
    usecase_id: str,
    dataset_id: str,
    version_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATASET_VIEW))],
    split: Literal["train", "val", "test"] | None = None,
    cursor: Annotated[int | None, Query(ge=0)] = None,
    limit: Limit = 100,
) -> Page[ItemOut]:
    version = datasets_service.get_version(session, usecase_id, version_id, dataset_id)
    rows = datasets_repo.items(session, version.id, after=cursor, limit=limit + 1, split=split)
    names = version.classes.get("class_names", [])
    items = [
        ItemOut(
            position=r.position,
            name=r.name,
            sha256=r.sha256,
            mask_sha256=r.mask_sha256,
            label=r.label,
            class_name=names[r.label] if r.label < len(names) else str(r.label),
            split=r.split,
            boxes=r.boxes,
            source_ref=r.source_ref,
        )
        for r in rows[:limit]
    ]
    return Page(items=items, next_cursor=str(rows[limit - 1].position) if len(rows) > limit else None)


@router.get("/{dataset_id}/versions/{version_id}/export")
def export_version(
    usecase_id: str,
    dataset_id: str,
    version_id: str,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATASET_VIEW))],
    format: Literal["gt", "dda", "coco", "yolo"] = "gt",
) -> FileResponse:
    """The version as a zip: Ground Truth or DDA manifest (+ images, masks), COCO or YOLO."""
    version = datasets_service.get_version(session, usecase_id, version_id, dataset_id)
    work = temp_dir(portal)
    try:
        archive = datasets_service.export_version(session, portal, usecase_id, version, format, work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(
        archive,
        media_type="application/zip",
        filename=archive.name,
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )
