"""Jobs of a use case: submit (or train-and-publish), list, show, logs, cancel, retry; components
and the use case's package-signing public keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dda.client.base import Http
from dda.portal.schemas.jobs import ComponentOut, JobDetail, JobEventOut, JobOut, SigningKeyOut


class JobsApi:
    def __init__(self, http: Http) -> None:
        self._http = http

    def _base(self, usecase_id: str) -> str:
        return f"/api/v1/usecases/{usecase_id}/jobs"

    def submit(self, usecase_id: str, job_type: str, parameters: dict[str, Any], **fields: Any) -> JobOut:
        body = {"type": job_type, "parameters": parameters, **fields}
        return self._http.model(JobOut, "POST", self._base(usecase_id), json=body)

    def train_and_publish(self, usecase_id: str, parameters: dict[str, Any], **fields: Any) -> JobOut:
        body = {"parameters": parameters, **fields}
        return self._http.model(JobOut, "POST", f"{self._base(usecase_id)}/train-and-publish", json=body)

    def iter(self, usecase_id: str, *, page_size: int = 50, **filters: Any) -> Iterator[JobOut]:
        return self._http.pages(JobOut, self._base(usecase_id), limit=page_size, **filters)

    def get(self, usecase_id: str, job_id: str) -> JobDetail:
        return self._http.model(JobDetail, "GET", f"{self._base(usecase_id)}/{job_id}")

    def logs(
        self, usecase_id: str, job_id: str, *, kind: str | None = None, after: int = 0
    ) -> list[JobEventOut]:
        params: dict[str, Any] = {"after": after, **({"kind": kind} if kind else {})}
        return self._http.models(JobEventOut, "GET", f"{self._base(usecase_id)}/{job_id}/logs", params=params)

    def cancel(self, usecase_id: str, job_id: str) -> JobOut:
        return self._http.model(JobOut, "POST", f"{self._base(usecase_id)}/{job_id}/cancel")

    def retry(self, usecase_id: str, job_id: str) -> JobOut:
        return self._http.model(JobOut, "POST", f"{self._base(usecase_id)}/{job_id}/retry")

    def components(self, usecase_id: str) -> list[ComponentOut]:
        return self._http.models(ComponentOut, "GET", f"/api/v1/usecases/{usecase_id}/components")

    def signing_keys(self, usecase_id: str) -> list[SigningKeyOut]:
        return self._http.models(SigningKeyOut, "GET", f"/api/v1/usecases/{usecase_id}/signing-keys")

    def list(self, usecase_id: str, **filters: Any) -> list[JobOut]:  # last: `list` names the method below
        return [*self.iter(usecase_id, **filters)]
