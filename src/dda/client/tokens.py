"""API tokens for automation."""

from __future__ import annotations

from dda.client.base import Http
from dda.portal.schemas.users import ApiTokenCreated, ApiTokenOut


class TokensApi:
    def __init__(self, http: Http) -> None:
        self._http = http

    def create(self, usecase_id: str, name: str, role: str, expires_in_days: int) -> ApiTokenCreated:
        body = {"name": name, "role": role, "expires_in_days": expires_in_days}
        return self._http.model(ApiTokenCreated, "POST", f"/api/v1/usecases/{usecase_id}/tokens", json=body)

    def list(self, usecase_id: str | None = None) -> list[ApiTokenOut]:
        params = {"usecase_id": usecase_id} if usecase_id else None
        return self._http.models(ApiTokenOut, "GET", "/api/v1/auth/tokens", params=params)

    def revoke(self, token_id: str) -> None:
        self._http.request("DELETE", f"/api/v1/auth/tokens/{token_id}")
