"""Devices of a use case: enrollment tokens, inventory with filters, detail, heartbeat history,
logs on demand, edit, revoke."""

from __future__ import annotations

import mimetypes
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from dda.core.errors import NotFound
from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import Access, PortalDep, SessionDep, require
from dda.portal.db import Device
from dda.portal.permissions import Permission
from dda.portal.schemas.common import Limit, Page
from dda.portal.schemas.fleet import (
    DeviceCommandCreate,
    DeviceCommandOut,
    DeviceLogs,
    DeviceOut,
    DeviceResultOut,
    DeviceUpdate,
    EnrollmentTokenCreate,
    EnrollmentTokenOut,
    HeartbeatPoint,
    ResultsToDataset,
    ResultsToDatasetOut,
)
from dda.portal.services import storage
from dda.portal.services import usecases as usecases_service
from dda.portal.services.audit import AuditEntry
from dda.portal.services.fleet import commands as commands_service
from dda.portal.services.fleet import devices as devices_service
from dda.portal.services.fleet import enrollment, improvement
from dda.portal.services.fleet import results as results_service

router = APIRouter(prefix="/api/v1/usecases/{usecase_id}/devices", tags=["devices"])


def to_out(device: Device) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        name=device.name,
        group=device.group,
        tags=list(device.tags or []),
        status=devices_service.status_of(device),
        last_seen_at=device.last_seen_at,
        enrolled_at=device.enrolled_at,
        revoked_at=device.revoked_at,
        facts=device.facts,
        last_heartbeat=device.last_heartbeat,
        applied_etag=device.applied_etag,
    )


@router.post("/enrollment-tokens", response_model=EnrollmentTokenOut, status_code=201)
def create_enrollment_token(
    usecase_id: str,
    body: EnrollmentTokenCreate,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEVICE_MANAGE))],
) -> EnrollmentTokenOut:
    row, token = enrollment.create_token(
        session,
        usecase_id,
        created_by=access.principal.user_id,
        ttl_s=body.ttl_s,
        device_name=body.device_name,
        group=body.group,
        tags=body.tags,
    )
    record(
        request,
        AuditEntry(
            action="device.enrollment_token",
            target_type="enrollment_token",
            target_id=row.id,
            summary={"device_name": body.device_name, "group": body.group, "ttl_s": body.ttl_s},
        ),
    )
    base = portal.settings.portal.public_url or str(request.base_url).rstrip("/")
    return EnrollmentTokenOut(
        id=row.id, token=token, expires_at=row.expires_at, command=f"dda station enroll {base} {token}"
    )


@router.get("", response_model=Page[DeviceOut])
def list_devices(
    usecase_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEVICE_VIEW))],
    group: Annotated[str | None, Query(max_length=63)] = None,
    tag: Annotated[str | None, Query(max_length=63)] = None,
    q: Annotated[str | None, Query(max_length=63)] = None,
    cursor: Annotated[str | None, Query(max_length=63)] = None,
    limit: Limit = 100,
) -> Page[DeviceOut]:
    rows = devices_service.search(
        session, usecase_id, group=group, tag=tag, text=q, after=cursor, limit=limit + 1
    )
    return Page(
        items=[to_out(d) for d in rows[:limit]],
        next_cursor=rows[limit - 1].name if len(rows) > limit else None,
    )


@router.get("/{device_id}", response_model=DeviceOut)
def get_device(
    usecase_id: str,
    device_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEVICE_VIEW))],
) -> DeviceOut:
    return to_out(devices_service.get(session, usecase_id, device_id))


@router.get("/{device_id}/heartbeats", response_model=list[HeartbeatPoint])
def device_heartbeats(
    usecase_id: str,
    device_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEVICE_VIEW))],
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=2880)] = 240,
) -> list[HeartbeatPoint]:
    device = devices_service.get(session, usecase_id, device_id)
    return [
        HeartbeatPoint(at=h.at, metrics=h.metrics)
        for h in devices_service.history(session, device, since, limit)
    ]


@router.patch("/{device_id}", response_model=DeviceOut)
def update_device(
    usecase_id: str,
    device_id: str,
    body: DeviceUpdate,
    request: Request,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEVICE_MANAGE))],
) -> DeviceOut:
    device = devices_service.get(session, usecase_id, device_id)
    changes = body.model_dump(exclude_none=True)
    for field, value in changes.items():
        setattr(device, field, value)
    record(
        request,
        AuditEntry(action="device.update", target_type="device", target_id=device.id, summary=changes),
    )
    return to_out(device)


@router.post("/{device_id}/revoke", response_model=DeviceOut)
def revoke_device(
    usecase_id: str,
    device_id: str,
    request: Request,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEVICE_MANAGE))],
) -> DeviceOut:
    device = devices_service.revoke(session, usecase_id, device_id)
    record(
        request,
        AuditEntry(
            action="device.revoke", target_type="device", target_id=device.id, summary={"name": device.name}
        ),
    )
    return to_out(device)


@router.post("/{device_id}/logs/request", response_model=DeviceLogs)
def request_logs(
    usecase_id: str,
    device_id: str,
    request: Request,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEVICE_MANAGE))],
) -> DeviceLogs:
    device = devices_service.request_logs(session, usecase_id, device_id)
    record(request, AuditEntry(action="device.logs_request", target_type="device", target_id=device.id))
    return DeviceLogs(requested=True, lines=list(device.log_tail or []), received_at=device.log_tail_at)


@router.get("/{device_id}/logs", response_model=DeviceLogs)
def device_logs(
    usecase_id: str,
    device_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEVICE_MANAGE))],
) -> DeviceLogs:
    device = devices_service.get(session, usecase_id, device_id)
    return DeviceLogs(
        requested=device.logs_requested_at is not None,
        lines=list(device.log_tail or []),
        received_at=device.log_tail_at,
    )


@router.post("/results/to-dataset", response_model=ResultsToDatasetOut, status_code=201)
def results_to_dataset(
    usecase_id: str,
    body: ResultsToDataset,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DATASET_WRITE))],
) -> ResultsToDatasetOut:
    """The improvement loop: chosen uploaded results become a new version of a dataset."""
    added = improvement.add_to_dataset(
        session,
        portal,
        usecase_id,
        body.result_ids,
        body.dataset,
        only_reviewed=body.only_reviewed,
        actor_id=access.principal.user_id,
    )
    version = added.version
    record(
        request,
        AuditEntry(
            action="dataset.add_device_results",
            target_type="dataset_version",
            target_id=version.id,
            summary={"dataset": body.dataset, "results": len(body.result_ids), "added": added.added},
        ),
    )
    return ResultsToDatasetOut(
        dataset_id=version.dataset_id,
        version_id=version.id,
        version_number=version.number,
        added=added.added,
        from_review=added.from_review,
        image_count=version.image_count,
    )


@router.get("/{device_id}/results", response_model=list[DeviceResultOut])
def device_results(
    usecase_id: str,
    device_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEVICE_VIEW))],
    verdict: Annotated[str | None, Query(pattern=r"^(normal|anomaly)$")] = None,
    before: datetime | None = None,
    limit: Limit = 100,
) -> list[DeviceResultOut]:
    device = devices_service.get(session, usecase_id, device_id)
    rows = results_service.list_for_device(session, device.id, verdict=verdict, before=before, limit=limit)
    return [DeviceResultOut.model_validate(row, from_attributes=True) for row in rows]


@router.get("/{device_id}/results/{result_id}/files/{name}")
def device_result_file(
    usecase_id: str,
    device_id: str,
    result_id: str,
    name: str,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEVICE_VIEW))],
) -> StreamingResponse:
    device = devices_service.get(session, usecase_id, device_id)
    row = results_service.get(session, device.id, result_id)
    if name not in row.files:
        raise NotFound(f"the result has no file {name!r}", hint=f"its files: {', '.join(row.files)}")
    usecase = usecases_service.get(session, usecase_id)
    handle = storage.store_for(portal, "usecases", usecase, usecase.id).open(f"{row.prefix}/{name}")
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return StreamingResponse(
        iter(lambda: handle.read(1 << 16), b""), media_type=media, background=BackgroundTask(handle.close)
    )


@router.post("/{device_id}/commands", response_model=DeviceCommandOut, status_code=201)
def create_command(
    usecase_id: str,
    device_id: str,
    body: DeviceCommandCreate,
    request: Request,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEVICE_MANAGE))],
) -> DeviceCommandOut:
    device = devices_service.get(session, usecase_id, device_id)
    row = commands_service.create(
        session, device, body.kind, body.args, created_by=access.principal.user_id, ttl_s=body.ttl_s
    )
    record(
        request,
        AuditEntry(
            action="device.command",
            target_type="device",
            target_id=device.id,
            summary={"kind": row.kind, "args": row.args, "command": row.id},
        ),
    )
    return DeviceCommandOut.model_validate(row, from_attributes=True)


@router.get("/{device_id}/commands", response_model=list[DeviceCommandOut])
def list_commands(
    usecase_id: str,
    device_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEVICE_MANAGE))],
    limit: Limit = 50,
) -> list[DeviceCommandOut]:
    device = devices_service.get(session, usecase_id, device_id)
    rows = commands_service.list_for_device(session, device.id, limit)
    return [DeviceCommandOut.model_validate(row, from_attributes=True) for row in rows]


@router.get("/{device_id}/commands/{command_id}/file")
def command_file(
    usecase_id: str,
    device_id: str,
    command_id: str,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEVICE_MANAGE))],
) -> StreamingResponse:
    device = devices_service.get(session, usecase_id, device_id)
    row = commands_service.get(session, device.id, command_id)
    if row.file_key is None:
        raise NotFound("the device has not sent that file (yet)", hint="wait for its next heartbeat")
    usecase = usecases_service.get(session, usecase_id)
    handle = storage.store_for(portal, "usecases", usecase, usecase.id).open(row.file_key)
    name = row.file_key.rsplit("/", 1)[-1]
    return StreamingResponse(
        iter(lambda: handle.read(1 << 16), b""),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
        background=BackgroundTask(handle.close),
    )
