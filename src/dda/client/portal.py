"""The client object: one HTTP core, one attribute per API area."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from dda.client.auth import AuthApi
from dda.client.base import Http, Session
from dda.client.data import DataApi, DatasetsApi
from dda.client.jobs import JobsApi
from dda.client.models import ModelsApi
from dda.client.tokens import TokensApi
from dda.client.usecases import UseCasesApi
from dda.client.users import TeamApi, UsersApi


class PortalClient:
    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        refresh_token: str | None = None,
        timeout: float = 30.0,
        on_tokens: Callable[[Session], None] | None = None,
    ) -> None:
        """``token``: an access JWT or an API token; with ``refresh_token`` an expired access token is
        renewed once automatically (``on_tokens`` hears about the new pair, e.g. to save it)."""
        self.http = Http(url, token=token, refresh_token=refresh_token, timeout=timeout, on_tokens=on_tokens)
        self.auth = AuthApi(self.http)
        self.usecases = UseCasesApi(self.http)
        self.users = UsersApi(self.http)
        self.team = TeamApi(self.http)
        self.tokens = TokensApi(self.http)
        self.jobs = JobsApi(self.http)
        self.models = ModelsApi(self.http)
        self.data = DataApi(self.http)
        self.datasets = DatasetsApi(self.http)

    @property
    def url(self) -> str:
        return self.http.base_url

    def health(self) -> dict[str, object]:
        body: dict[str, object] = self.http.json("GET", "/api/v1/health")
        return body

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PortalClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
