"""What stations' agents call (never users): enroll with a one-time token, heartbeat, fetch the
desired state (ETag), download packages (HTTP Range), report deployment progress, upload results."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from dda.core.errors import InvalidInput, NotFound
from dda.core.storage import ObjectStore
from dda.fleet_protocol import (
    CommandResult,
    DeploymentReport,
    DesiredState,
    EnrollRequest,
    EnrollResponse,
    Heartbeat,
    HeartbeatResponse,
    ResultRecord,
)
from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import PortalDep, SessionDep, device_auth, public
from dda.portal.db import Device
from dda.portal.services import storage
from dda.portal.services import usecases as usecases_service
from dda.portal.services.audit import AuditEntry
from dda.portal.services.fleet import commands, enrollment, packages, results
from dda.portal.services.fleet import deployments as deployments_service
from dda.portal.services.fleet import devices as devices_service

router = APIRouter(prefix="/api/v1/agent", tags=["agent"])
DeviceId = Annotated[str, Depends(device_auth())]


def _device(session: SessionDep, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound("unknown device", hint="enroll again")
    return device


def _usecase_store(portal: PortalDep, session: SessionDep, usecase_id: str) -> ObjectStore:
    usecase = usecases_service.get(session, usecase_id)
    return storage.store_for(portal, "usecases", usecase, usecase.id)


@router.post("/enroll", response_model=EnrollResponse, dependencies=[Depends(public())])
def enroll(body: EnrollRequest, request: Request, portal: PortalDep, session: SessionDep) -> EnrollResponse:
    entry = AuditEntry(action="device.enroll", target_type="device")
    record(request, entry)
    answer = enrollment.enroll(session, portal, body)
    entry.target_id, entry.usecase_id = answer.device_id, answer.usecase_id
    entry.actor_name, entry.summary = (
        f"device {answer.name}",
        {"name": answer.name, **body.facts.model_dump()},
    )
    return answer


@router.post("/heartbeat", response_model=HeartbeatResponse)
def heartbeat(
    body: Heartbeat, portal: PortalDep, session: SessionDep, device_id: DeviceId
) -> HeartbeatResponse:
    device = _device(session, device_id)
    # Reads first, the device's own writes last (they reach the database at commit).
    view = devices_service.desired_view(session, device)
    signed = commands.deliver(session, portal, device)
    for deployment_id in view.active_deployments:  # soak ends and gates are checked on beats
        deployments_service.advance_throttled(session, deployment_id)
    answer = devices_service.record_heartbeat(session, device, body, view)
    answer.commands = signed
    return answer


@router.post("/ping", status_code=204)
def ping(device_id: DeviceId) -> None:
    """Checks a device's signature and nothing else: a connectivity check for stations, and the
    load benchmark's baseline (what a signed request costs without a heartbeat's work)."""


@router.get("/desired", response_model=DesiredState)
def desired(
    session: SessionDep,
    device_id: DeviceId,
    if_none_match: Annotated[str | None, Header(max_length=100)] = None,
) -> DesiredState | Response:
    state = devices_service.desired_for(session, _device(session, device_id))
    if if_none_match and if_none_match.strip('"') == state.etag:
        return Response(status_code=304, headers={"ETag": f'"{state.etag}"'})
    return state


@router.get("/packages/{deployment_id}/{index}")
def download_package(
    deployment_id: str,
    index: int,
    portal: PortalDep,
    session: SessionDep,
    device_id: DeviceId,
    range_header: Annotated[str | None, Header(alias="range", max_length=100)] = None,
) -> StreamingResponse:
    device = _device(session, device_id)
    deployment = deployments_service.device_in_deployment(session, deployment_id, device.id)
    if not 0 <= index < len(deployment.items):
        raise NotFound("no such package in the deployment", hint="poll the desired state again")
    item = deployment.items[index]
    store = _usecase_store(portal, session, deployment.usecase_id)
    size = int(item["package_size"])
    span = packages.parse_range(range_header, size)
    start, end = span if span is not None else (0, size - 1)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start + 1),
        "ETag": f'"{item["package_sha256"]}"',
    }
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return StreamingResponse(
        packages.stream_range(store, item["package_key"], start, end),
        status_code=206 if span is not None else 200,
        media_type="application/gzip",
        headers=headers,
    )


@router.post("/reports", status_code=204)
def report(body: DeploymentReport, request: Request, session: SessionDep, device_id: DeviceId) -> None:
    device = _device(session, device_id)
    deployments_service.apply_report(session, device, body)
    if body.phase in deployments_service.FINAL_PHASES:
        record(
            request,
            AuditEntry(
                action=f"deployment.device_{body.phase}",
                target_type="deployment",
                target_id=body.deployment_id,
                usecase_id=device.usecase_id,
                actor_name=f"device {device.name}",
                summary={"reason": body.reason},
            ),
        )


UploadDevice = Annotated[str, Depends(device_auth(max_body=results.MAX_FILE_BYTES))]


@router.put("/results/{capture_id}/{name}", status_code=204)
def upload_result_file(
    capture_id: str,
    name: str,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    device_id: UploadDevice,
    at: datetime,
    sha256: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
) -> None:
    device = _device(session, device_id)
    store = _usecase_store(portal, session, device.usecase_id)
    body = request.state.device_body
    results.store_file(store, device, capture_id, name, body, sha256=sha256, at=at)


@router.post("/results", status_code=204)
def record_result(body: ResultRecord, portal: PortalDep, session: SessionDep, device_id: DeviceId) -> None:
    device = _device(session, device_id)
    results.record(session, _usecase_store(portal, session, device.usecase_id), device, body)


@router.post("/commands/{command_id}/result", status_code=204)
def command_result(
    command_id: str, body: CommandResult, request: Request, session: SessionDep, device_id: DeviceId
) -> None:
    device = _device(session, device_id)
    row = commands.finish(session, device, command_id, body)
    record(
        request,
        AuditEntry(
            action=f"device.command_{row.status}",
            target_type="device_command",
            target_id=row.id,
            usecase_id=device.usecase_id,
            actor_name=f"device {device.name}",
            summary={"kind": row.kind, "message": body.message},
        ),
    )


@router.put("/commands/{command_id}/file", status_code=204)
def command_file(
    command_id: str,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    device_id: UploadDevice,
    name: Annotated[str, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")],
    sha256: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
) -> None:
    device = _device(session, device_id)
    row = commands.get(session, device.id, command_id)
    if row.kind != "fetch_file" or row.status != "delivered":
        raise NotFound("no file was asked for with this command", hint="answer fetch_file commands only")
    data: bytes = request.state.device_body
    if hashlib.sha256(data).hexdigest() != sha256:
        raise InvalidInput("the file does not match its sha256", hint="send it again")
    key = f"device-files/{device.id}/{row.id}/{name}"
    _usecase_store(portal, session, device.usecase_id).put_bytes(key, data)
    row.file_key = key
