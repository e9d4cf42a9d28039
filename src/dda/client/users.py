"""Users (PortalAdmin) and use-case teams."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dda.client.base import Http
from dda.portal.schemas.users import MemberOut, UserOut


class UsersApi:
    def __init__(self, http: Http) -> None:
        self._http = http

    def list(self) -> list[UserOut]:
        return list(self.iter())

    def iter(self, *, page_size: int = 100) -> Iterator[UserOut]:
        return self._http.pages(UserOut, "/api/v1/users", limit=page_size)

    def create(self, username: str, password: str | None = None, **fields: Any) -> UserOut:
        body = {"username": username, "password": password, **fields}
        return self._http.model(UserOut, "POST", "/api/v1/users", json=body)

    def get(self, user: str) -> UserOut:
        """By id or username."""
        return self._http.model(UserOut, "GET", f"/api/v1/users/{user}")

    def update(self, user: str, **fields: Any) -> UserOut:
        return self._http.model(UserOut, "PATCH", f"/api/v1/users/{user}", json=fields)

    def disable(self, user: str) -> UserOut:
        return self.update(user, disabled=True)

    def enable(self, user: str) -> UserOut:
        return self.update(user, disabled=False)

    def set_portal_admin(self, user: str, value: bool) -> UserOut:
        return self.update(user, is_portal_admin=value)

    def reset_password(self, user: str, new_password: str) -> None:
        self._http.request("POST", f"/api/v1/users/{user}/password", json={"new_password": new_password})


class TeamApi:
    def __init__(self, http: Http) -> None:
        self._http = http

    def list(self, usecase_id: str) -> list[MemberOut]:
        return self._http.models(MemberOut, "GET", f"/api/v1/usecases/{usecase_id}/members")

    def add(self, usecase_id: str, username: str, role: str) -> MemberOut:
        body = {"username": username, "role": role}
        return self._http.model(MemberOut, "POST", f"/api/v1/usecases/{usecase_id}/members", json=body)

    def change(self, usecase_id: str, username: str, role: str) -> MemberOut:
        path = f"/api/v1/usecases/{usecase_id}/members/{username}"
        return self._http.model(MemberOut, "PATCH", path, json={"role": role})

    def remove(self, usecase_id: str, username: str) -> None:
        self._http.request("DELETE", f"/api/v1/usecases/{usecase_id}/members/{username}")
