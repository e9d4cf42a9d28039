"""Schemathesis against the station's own OpenAPI: every operation, valid and malformed inputs,
logged in as admin, through a real uvicorn server. No request may end in a server error (5xx).

Bounded: a few examples per operation and mode, no shrinking, so the run stays well under two
minutes on two cores.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from dda.core.settings import Settings
from dda.station.app import create_app
from tests.station.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.station.server_util import serve_in_thread

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.generation import GenerationMode  # noqa: E402

EXAMPLES = 8
# Operations that end the fuzzer's own login; they have dedicated tests (test_security.py).
SKIP = {("POST", "/api/v1/auth/logout"), ("PATCH", "/api/v1/users/{user_id}")}
# Operations that download from a URL: a fuzzed host name would wait on DNS (tested with a real server).
SKIP |= {("POST", "/api/v1/models")}


def _login(base: str) -> dict[str, str]:
    import httpx

    httpx.post(f"{base}/api/v1/auth/setup", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    token = httpx.post(
        f"{base}/api/v1/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _fuzz(operation: Any, mode: GenerationMode, base: str, auth: dict[str, str], errors: list[str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples every run: a failure here is reproducible
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(base_url=base, headers=auth, timeout=60)
        if response.status_code >= 500:
            errors.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}\n"
                f"  {case.as_curl_command()[:400]}"
            )

    with contextlib.suppress(Unsatisfiable):  # nothing to make malformed: no parameters, no body
        run()


@pytest.mark.slow
def test_no_server_errors_on_fuzzed_requests(station_settings: Settings) -> None:
    app: FastAPI = create_app(station_settings, web_dist=None, configure_logs=False)
    with serve_in_thread(app) as host:
        base = f"http://{host}"
        auth = _login(base)
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        errors: list[str] = []
        seen = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) in SKIP:
                continue
            seen += 1
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, base, auth, errors)
        assert seen >= 40
        assert not errors, "server errors:\n" + "\n".join(errors[:20])
