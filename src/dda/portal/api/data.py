"""Data management routes: upload (batches, archives, resumable), browse, thumbnails, import, delete."""

from __future__ import annotations

import shutil
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from dda.core.errors import InvalidInput
from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import Access, PortalDep, SessionDep, require
from dda.portal.api.errors import PayloadTooLarge
from dda.portal.context import Portal
from dda.portal.db import DataEntry, DataObject, UploadSession
from dda.portal.permissions import Permission
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.schemas.common import Limit
from dda.portal.schemas.data import (
    BatchOut,
    BrowseOut,
    FolderImport,
    FolderOut,
    ImageOut,
    S3Import,
    UploadCreate,
    UploadOut,
)
from dda.portal.services import data as data_service
from dda.portal.services import data_import, thumbnails, uploads
from dda.portal.services.audit import AuditEntry
from dda.portal.services.data import MB

router = APIRouter(prefix="/api/v1/usecases/{usecase_id}/data", tags=["data"])
FolderQuery = Annotated[str, Query(max_length=512, description="a folder of the use case's tree")]
MAX_FILES_PER_REQUEST = 1000
COPY_CHUNK = 1024 * 1024


def _image_out(usecase_id: str, row: Any) -> ImageOut:
    """``row``: a browse row, or anything with the same attributes."""
    return ImageOut(
        id=row.id,
        name=row.name,
        folder=row.folder,
        sha256=row.sha256,
        size=row.size,
        format=row.format,
        width=row.width,
        height=row.height,
        created_at=row.created_at,
        thumbnail_url=f"/api/v1/usecases/{usecase_id}/data/images/{row.id}/thumbnail",
    )


def _entry_row(entry: DataEntry, obj: DataObject) -> SimpleNamespace:
    return SimpleNamespace(
        id=entry.id,
        name=entry.name,
        folder=entry.folder,
        sha256=entry.sha256,
        size=entry.size,
        format=obj.format,
        width=obj.width,
        height=obj.height,
        created_at=entry.created_at,
    )


def _batch_response(request: Request, result: uploads.BatchResult, action: str, target: str) -> JSONResponse:
    counts = result.counts()
    landed = counts["stored"] + counts["duplicate"]
    status = 201 if landed else 200
    if not landed and result.quota_hit:
        status = 507
    elif not landed and counts["rejected"] and not counts["exists"]:
        status = 422
    record(request, AuditEntry(action=action, target_type="folder", target_id=target[:128], summary=counts))
    body = BatchOut.model_validate(result.as_dict())
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


async def bounded_stream(request: Request, cap: int) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > cap:
            raise PayloadTooLarge(
                f"the request is over the {cap // MB} MB limit",
                hint="send fewer files per request, or use a resumable upload for large files",
            )
        yield chunk


def check_length(request: Request, cap: int) -> None:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap:
        raise PayloadTooLarge(
            f"the request is {int(length) // MB} MB; the limit is {cap // MB} MB",
            hint="send fewer files per request, or use a resumable upload for large files",
        )


def _save(upload: UploadFile, dest: Path) -> None:
    upload.file.seek(0)
    with dest.open("wb") as out:
        shutil.copyfileobj(upload.file, out, COPY_CHUNK)


async def _receive_files(request: Request, portal: Portal, work: Path) -> list[tuple[str, Path]]:
    cap = portal.settings.portal.max_upload_mb * MB
    check_length(request, cap)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("send the files as multipart/form-data", hint="one 'files' part per file")
    parser = MultiPartParser(
        request.headers, bounded_stream(request, cap), max_files=MAX_FILES_PER_REQUEST, max_fields=20
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidInput(
            f"the multipart body is malformed: {exc.message}", hint="check the request"
        ) from exc
    files: list[tuple[str, Path]] = []
    try:
        for index, (_, value) in enumerate(form.multi_items()):
            if isinstance(value, UploadFile):
                dest = work / f"{index:05d}"
                await run_in_threadpool(_save, value, dest)
                files.append((value.filename or "", dest))
    finally:
        await form.close()
    if not files:
        raise InvalidInput("the request holds no files", hint="add one or more 'files' parts")
    return files


@router.post("/images", status_code=201, response_model=BatchOut)
async def upload_images(
    usecase_id: str,
    request: Request,
    portal: PortalDep,
    access: Annotated[Access, Depends(require(Permission.DATA_WRITE))],
    folder: FolderQuery = "",
) -> JSONResponse:
    """Upload images and zip/tar archives of images into ``folder`` (multipart, many files)."""
    target = data_service.clean_folder(folder)
    work = uploads.temp_dir(portal)
    try:
        files = await _receive_files(request, portal, work)
        result = await run_in_threadpool(
            uploads.ingest_files, portal, usecase_id, access.principal.user_id, target, files
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _batch_response(request, result, "data.upload", target)


@router.get("/browse", response_model=BrowseOut)
def browse(
    usecase_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATA_VIEW))],
    folder: FolderQuery = "",
    cursor: Annotated[str | None, Query(max_length=1400)] = None,
    limit: Limit = 100,
) -> BrowseOut:
    page = data_service.browse(session, usecase_id, folder, cursor, limit)
    base = data_service.clean_folder(folder)
    return BrowseOut(
        folder=base,
        folders=[FolderOut(name=n, path=f"{base}/{n}" if base else n) for n in page.folders],
        images=[_image_out(usecase_id, row) for row in page.images],
        next_cursor=page.next_cursor,
    )


@router.get("/images/{entry_id}", response_model=ImageOut)
def get_image(
    usecase_id: str,
    entry_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATA_VIEW))],
) -> ImageOut:
    entry, obj = data_service.get_entry(session, usecase_id, entry_id)
    return _image_out(usecase_id, _entry_row(entry, obj))


def _stream(stream: Any) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(COPY_CHUNK):
            yield chunk


@router.get("/images/{entry_id}/content")
def image_content(
    usecase_id: str,
    entry_id: str,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATA_VIEW))],
) -> StreamingResponse:
    _entry, obj = data_service.get_entry(session, usecase_id, entry_id)
    usecase = usecases_repo.by_id(session, usecase_id)
    assert usecase is not None
    stream = data_service.usecase_store(portal, usecase).open(data_service.object_key(obj.sha256))
    media = data_service.IMAGE_CONTENT_TYPES.get(obj.format, "application/octet-stream")
    headers = {"ETag": f'"{obj.sha256}"', "Content-Length": str(obj.size)}
    return StreamingResponse(_stream(stream), media_type=media, headers=headers)


@router.get("/images/{entry_id}/thumbnail")
def image_thumbnail(
    usecase_id: str,
    entry_id: str,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATA_VIEW))],
    if_none_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """A JPEG at most 256 px a side, made once and kept; 304 when the client's copy is current."""
    _, obj = data_service.get_entry(session, usecase_id, entry_id)
    tag = thumbnails.etag(obj.sha256)
    headers = {"ETag": tag, "Cache-Control": "private, max-age=86400"}
    if if_none_match is not None and tag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(thumbnails.thumbnail(session, portal, obj), media_type="image/jpeg", headers=headers)


@router.delete("/images/{entry_id}", status_code=204)
def delete_image(
    usecase_id: str,
    entry_id: str,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATA_WRITE))],
) -> None:
    """Refused with 409 while a dataset version uses the image."""
    row = data_service.delete_entry(session, portal, usecase_id, entry_id)
    record(
        request,
        AuditEntry(
            action="data.delete",
            target_type="image",
            target_id=row.id,
            summary={"path": data_service.entry_path(row), "sha256": row.sha256},
        ),
    )


# --------------------------------------------------------------------------- resumable uploads


def _upload_out(portal: Portal, row: UploadSession, offset: int | None = None) -> UploadOut:
    return UploadOut(
        id=row.id,
        folder=row.folder,
        name=row.name,
        size=row.total_size,
        offset=row.offset if offset is None else offset,
        status=row.status,
        chunk_size=portal.settings.portal.upload_chunk_mb * MB,
        expires_at=row.expires_at,
    )


@router.post("/uploads", status_code=201, response_model=UploadOut)
def create_upload(
    usecase_id: str,
    body: UploadCreate,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATA_WRITE))],
) -> UploadOut:
    """Start a resumable upload of one large file (an image or an archive of images)."""
    usecase = usecases_repo.by_id(session, usecase_id)
    assert usecase is not None
    row = uploads.create(
        session, portal, usecase, body.folder, body.name, body.size, access.principal.user_id
    )
    record(
        request,
        AuditEntry(
            action="data.upload_start",
            target_type="upload",
            target_id=row.id,
            summary={"name": row.name, "size": row.total_size},
        ),
    )
    return _upload_out(portal, row)


@router.get("/uploads/{upload_id}", response_model=UploadOut)
def upload_status(
    usecase_id: str,
    upload_id: str,
    response: Response,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATA_WRITE))],
) -> UploadOut:
    """Where to resume: the offset the next chunk must start at (also in ``Upload-Offset``)."""
    row = uploads.open_upload(session, usecase_id, upload_id)
    response.headers["Upload-Offset"] = str(row.offset)
    return _upload_out(portal, row)


async def _receive_chunk(request: Request, dest: Path, cap: int) -> int:
    check_length(request, cap)
    written = 0
    with dest.open("wb") as out:
        async for chunk in bounded_stream(request, cap):
            out.write(chunk)
            written += len(chunk)
    return written


@router.patch("/uploads/{upload_id}", response_model=UploadOut)
async def upload_chunk(
    usecase_id: str,
    upload_id: str,
    request: Request,
    portal: PortalDep,
    access: Annotated[Access, Depends(require(Permission.DATA_WRITE))],
    upload_offset: Annotated[int, Header(ge=0)],
) -> JSONResponse:
    """Append one chunk (the raw request body) at ``Upload-Offset``, which must be the current offset."""
    work = uploads.temp_dir(portal)
    try:
        length = await _receive_chunk(request, work / "chunk", portal.settings.portal.upload_chunk_mb * MB)
        offset = await run_in_threadpool(
            uploads.append, portal, usecase_id, upload_id, upload_offset, work / "chunk", length
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record(
        request,
        AuditEntry(
            action="data.upload_chunk",
            target_type="upload",
            target_id=upload_id,
            summary={"offset": upload_offset, "length": length},
        ),
    )
    return JSONResponse({"id": upload_id, "offset": offset}, headers={"Upload-Offset": str(offset)})


@router.post("/uploads/{upload_id}/finish", response_model=BatchOut)
def finish_upload(
    usecase_id: str,
    upload_id: str,
    request: Request,
    portal: PortalDep,
    access: Annotated[Access, Depends(require(Permission.DATA_WRITE))],
) -> JSONResponse:
    result = uploads.finish(portal, usecase_id, upload_id, access.principal.user_id)
    return _batch_response(request, result, "data.upload_finish", upload_id)


@router.delete("/uploads/{upload_id}", status_code=204)
def abort_upload(
    usecase_id: str,
    upload_id: str,
    portal: PortalDep,
    access: Annotated[Access, Depends(require(Permission.DATA_WRITE))],
) -> None:
    uploads.abort(portal, usecase_id, upload_id)


# --------------------------------------------------------------------------- imports


@router.post("/import/folder", response_model=BatchOut)
def import_folder(
    usecase_id: str,
    body: FolderImport,
    request: Request,
    portal: PortalDep,
    access: Annotated[Access, Depends(require(Permission.DATA_WRITE))],
) -> JSONResponse:
    """Import a server folder under one of the import roots a PortalAdmin configured."""
    folder = data_service.clean_folder(body.folder)
    result = data_import.import_folder(
        portal, usecase_id, access.principal.user_id, body.root, body.path, folder
    )
    return _batch_response(request, result, "data.import_folder", f"{body.root}:{body.path}")


@router.post("/import/s3", response_model=BatchOut)
def import_s3(
    usecase_id: str,
    body: S3Import,
    request: Request,
    portal: PortalDep,
    access: Annotated[Access, Depends(require(Permission.DATA_WRITE))],
) -> JSONResponse:
    """Import an S3 API prefix: credentials for this import only (not stored) or an attached location."""
    folder = data_service.clean_folder(body.folder)
    if body.data_location_id is not None:
        source = data_import.location_source(portal, usecase_id, body.data_location_id)
        prefix, where = body.prefix, f"location {body.data_location_id}"
    elif body.bucket is not None:
        source = data_import.s3_source(
            portal,
            endpoint_url=body.endpoint_url,
            bucket=body.bucket,
            prefix=body.prefix,
            region=body.region,
            access_key_id=body.access_key_id,
            secret_access_key=body.secret_access_key,
        )
        prefix, where = "", f"s3://{body.bucket}"
    else:
        raise InvalidInput("name a bucket or a data_location_id", hint="give one of them")
    result = data_import.import_store(portal, usecase_id, access.principal.user_id, source, prefix, folder)
    return _batch_response(request, result, "data.import_s3", f"{where}/{body.prefix}")
