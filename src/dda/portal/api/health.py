"""Liveness (no login, nothing more than "up") and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from dda.portal.api.deps import PortalDep, public
from dda.portal.metrics import REGISTRY

router = APIRouter(tags=["health"])


@router.get("/api/v1/health", dependencies=[Depends(public())])
def health(portal: PortalDep) -> dict[str, str]:
    with portal.sessions() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/metrics", dependencies=[Depends(public())], include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
