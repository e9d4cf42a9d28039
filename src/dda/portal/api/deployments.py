"""Deployments of a use case: create (device / group / tag, waves, soak, failure threshold),
list, detail with the per-device status table, cancel, one-click rollback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from dda.portal.api.audit_middleware import record
from dda.portal.api.deps import Access, PortalDep, SessionDep, require
from dda.portal.db import Deployment
from dda.portal.permissions import Permission
from dda.portal.schemas.common import Limit, Page
from dda.portal.schemas.fleet import DeploymentCreate, DeploymentDeviceOut, DeploymentOut
from dda.portal.services import storage
from dda.portal.services import usecases as usecases_service
from dda.portal.services.audit import AuditEntry
from dda.portal.services.fleet import deployments as deployments_service
from dda.portal.services.fleet import packages

router = APIRouter(prefix="/api/v1/usecases/{usecase_id}/deployments", tags=["deployments"])


def to_out(session: SessionDep, row: Deployment, with_devices: bool = True) -> DeploymentOut:
    devices = []
    if with_devices:
        devices = [
            DeploymentDeviceOut(
                device_id=device.id,
                device_name=device.name,
                wave=link.wave,
                phase=link.phase,
                progress_pct=link.progress_pct,
                reason=link.reason,
                rolled_back_by_portal=link.superseded,
                updated_at=link.updated_at,
            )
            for link, device in deployments_service.device_rows(session, row.id)
        ]
    return DeploymentOut(
        id=row.id,
        name=row.name,
        target_kind=row.target_kind,
        target_value=row.target_value,
        items=[
            {k: v for k, v in item.items() if k != "package_key"} | {"package": item["package_key"]}
            for item in row.items
        ],
        config=row.config,
        waves=row.waves,
        released_wave=row.released_wave,
        soak_s=row.soak_s,
        failure_threshold=row.failure_threshold,
        status=row.status,
        status_reason=row.status_reason,
        rollback_of=row.rollback_of,
        quality_gate=row.quality_gate,
        gate_report=row.gate_report,
        created_at=row.created_at,
        finished_at=row.finished_at,
        devices=devices,
    )


@router.get("", response_model=Page[DeploymentOut])
def list_deployments(
    usecase_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEPLOYMENT_VIEW))],
    status: Annotated[str | None, Query(max_length=16)] = None,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Limit = 50,
) -> Page[DeploymentOut]:
    query = select(Deployment).where(Deployment.usecase_id == usecase_id)
    if status:
        query = query.where(Deployment.status == status)
    if cursor:
        query = query.where(Deployment.id < cursor)
    rows = list(session.scalars(query.order_by(Deployment.id.desc()).limit(limit + 1)))
    items = [to_out(session, r, with_devices=False) for r in rows[:limit]]
    return Page(items=items, next_cursor=rows[limit - 1].id if len(rows) > limit else None)


@router.post("", response_model=DeploymentOut, status_code=201)
def create_deployment(
    usecase_id: str,
    body: DeploymentCreate,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEPLOYMENT_WRITE))],
) -> DeploymentOut:
    usecase = usecases_service.get(session, usecase_id)
    store = storage.store_for(portal, "usecases", usecase, usecase.id)
    items = [packages.describe_package(store, key) for key in body.packages]
    row = deployments_service.create(
        session,
        usecase_id,
        name=body.name,
        target_kind=body.target.kind,
        target_value=body.target.value,
        items=items,
        config=body.config.model_dump(mode="json") if body.config is not None else None,
        waves=body.waves,
        soak_s=body.soak_s,
        failure_threshold=body.failure_threshold,
        created_by=access.principal.user_id,
        quality_gate=body.quality_gate.model_dump(exclude_none=True) if body.quality_gate else None,
    )
    record(
        request,
        AuditEntry(
            action="deployment.create",
            target_type="deployment",
            target_id=row.id,
            summary={
                "name": row.name,
                "target": f"{row.target_kind}:{row.target_value}",
                "waves": row.waves,
                "models": [f"{i.model_name}:{i.model_version}" for i in items],
                "config": body.config.version if body.config is not None else None,
                "quality_gate": row.quality_gate,
            },
        ),
    )
    return to_out(session, row)


@router.get("/{deployment_id}", response_model=DeploymentOut)
def get_deployment(
    usecase_id: str,
    deployment_id: str,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEPLOYMENT_VIEW))],
) -> DeploymentOut:
    row = deployments_service.get(session, usecase_id, deployment_id)
    deployments_service.advance(session, row)  # a soak may have ended since the last report
    return to_out(session, row)


@router.post("/{deployment_id}/cancel", response_model=DeploymentOut)
def cancel_deployment(
    usecase_id: str,
    deployment_id: str,
    request: Request,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEPLOYMENT_WRITE))],
) -> DeploymentOut:
    row = deployments_service.get(session, usecase_id, deployment_id)
    deployments_service.cancel(session, row)
    record(request, AuditEntry(action="deployment.cancel", target_type="deployment", target_id=row.id))
    return to_out(session, row)


@router.post("/{deployment_id}/rollback", response_model=DeploymentOut, status_code=201)
def rollback_deployment(
    usecase_id: str,
    deployment_id: str,
    request: Request,
    session: SessionDep,
    access: Annotated[Access, Depends(require(Permission.DEPLOYMENT_WRITE))],
) -> DeploymentOut:
    row = deployments_service.get(session, usecase_id, deployment_id)
    new = deployments_service.rollback(session, row, access.principal.user_id)
    record(
        request,
        AuditEntry(
            action="deployment.rollback",
            target_type="deployment",
            target_id=row.id,
            summary={"new_deployment": new.id},
        ),
    )
    return to_out(session, new)
