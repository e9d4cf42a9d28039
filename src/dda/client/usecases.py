"""Use cases: list, create, show, update, delete."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dda.client.base import Http
from dda.portal.schemas.usecases import UseCaseOut


class UseCasesApi:
    def __init__(self, http: Http) -> None:
        self._http = http

    def list(self) -> list[UseCaseOut]:
        return list(self.iter())

    def iter(self, *, page_size: int = 100) -> Iterator[UseCaseOut]:
        return self._http.pages(UseCaseOut, "/api/v1/usecases", limit=page_size)

    def create(self, name: str, **fields: Any) -> UseCaseOut:
        return self._http.model(UseCaseOut, "POST", "/api/v1/usecases", json={"name": name, **fields})

    def get(self, usecase_id: str) -> UseCaseOut:
        return self._http.model(UseCaseOut, "GET", f"/api/v1/usecases/{usecase_id}")

    def find(self, ref: str) -> UseCaseOut:
        """A use case by id or by name (among those the caller sees)."""
        for usecase in self.iter():
            if ref in (usecase.id, usecase.name):
                return usecase
        from dda.client.base import PortalError

        raise PortalError(
            404,
            f"no use case {ref!r} that you can see",
            code="usecase_not_found",
            hint="list yours with `dda portal usecases list`",
        )

    def update(self, usecase_id: str, **fields: Any) -> UseCaseOut:
        return self._http.model(UseCaseOut, "PATCH", f"/api/v1/usecases/{usecase_id}", json=fields)

    def delete(self, usecase_id: str) -> None:
        self._http.request("DELETE", f"/api/v1/usecases/{usecase_id}")
