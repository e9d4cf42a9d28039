from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, field_validator

HOST = r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"


class StationSettingsIn(BaseModel):
    """Admin-owned runtime settings."""

    model_config = ConfigDict(extra="forbid")
    outbound_allow: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Host names and CIDRs on the local network that model downloads (URLs) and webhook "
        "outputs may reach; nothing else on loopback, private or link-local networks is contacted",
    )

    @field_validator("outbound_allow")
    @classmethod
    def _hosts_or_networks(cls, entries: list[str]) -> list[str]:
        import re

        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
                continue
            except ValueError:
                pass
            if len(entry) > 253 or not re.match(HOST, entry):
                raise ValueError(f"{entry!r} is neither a host name nor an IP address/CIDR")
        return entries


class StationSettingsOut(StationSettingsIn):
    pass
