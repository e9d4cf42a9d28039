"""Login, refresh, logout, the caller's profile and password."""

from __future__ import annotations

from dda.client.base import Http
from dda.portal.schemas.auth import MeResponse, TokenResponse


class AuthApi:
    def __init__(self, http: Http) -> None:
        self._http = http

    def login(self, username: str, password: str) -> TokenResponse:
        tokens = self._http.model(
            TokenResponse,
            "POST",
            "/api/v1/auth/login",
            json={"username": username, "password": password},
            retry_on_401=False,
        )
        self._http.set_tokens(tokens.access_token, tokens.refresh_token, tokens.expires_at)
        return tokens

    def refresh(self) -> TokenResponse:
        tokens = self._http.model(
            TokenResponse,
            "POST",
            "/api/v1/auth/refresh",
            json={"refresh_token": self._http.refresh_token or ""},
            retry_on_401=False,
        )
        self._http.set_tokens(tokens.access_token, tokens.refresh_token, tokens.expires_at)
        return tokens

    def logout(self, *, everywhere: bool = False) -> None:
        body = {"refresh_token": self._http.refresh_token, "everywhere": everywhere}
        self._http.request("POST", "/api/v1/auth/logout", json=body)
        self._http.token = self._http.refresh_token = None

    def me(self) -> MeResponse:
        return self._http.model(MeResponse, "GET", "/api/v1/auth/me")

    def change_password(self, current: str, new: str) -> None:
        body = {"current_password": current, "new_password": new}
        self._http.request("POST", "/api/v1/auth/password", json=body)
