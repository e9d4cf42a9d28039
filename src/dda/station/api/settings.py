"""Admin-owned station settings (the one outbound allow-list: model downloads and webhooks)."""

from __future__ import annotations

from fastapi import APIRouter

from dda.station.api.deps import Admin, SessionDep, StationDep
from dda.station.repositories import settings as settings_repo
from dda.station.schemas.settings import StationSettingsIn, StationSettingsOut

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])
OUTBOUND_ALLOW = settings_repo.OUTBOUND_ALLOW


@router.get("")
def get_settings(_: Admin, session: SessionDep) -> StationSettingsOut:
    return StationSettingsOut(outbound_allow=settings_repo.get(session, OUTBOUND_ALLOW, []))


@router.put("")
def put_settings(
    data: StationSettingsIn, _: Admin, session: SessionDep, station: StationDep
) -> StationSettingsOut:
    settings_repo.put(session, OUTBOUND_ALLOW, data.outbound_allow)
    station.outbound.set(data.outbound_allow)
    return StationSettingsOut(outbound_allow=data.outbound_allow)
