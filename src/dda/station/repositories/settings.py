from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dda.station.db.models import StationSetting

OUTBOUND_ALLOW = "outbound_allow"  # local host names / CIDRs downloads and webhooks may reach


def get(session: Session, key: str, default: Any = None) -> Any:
    row = session.get(StationSetting, key)
    return default if row is None else row.value


def put(session: Session, key: str, value: Any) -> None:
    row = session.get(StationSetting, key)
    if row is None:
        session.add(StationSetting(key=key, value=value))
    else:
        row.value = value
    session.flush()
