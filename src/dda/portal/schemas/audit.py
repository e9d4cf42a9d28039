"""The audit log as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

Outcome = Literal["success", "failure", "denied"]


class AuditEventOut(BaseModel):
    seq: int
    at: datetime
    actor_id: str | None
    actor_name: str
    role: str
    usecase_id: str | None
    action: str
    target_type: str
    target_id: str
    outcome: str
    status_code: int
    request_id: str
    client_address: str
    summary: dict[str, Any]
    prev_hash: str
    hash: str
