"""A bounded, authenticated Schemathesis run against the portal's own OpenAPI document.

Every operation gets a few valid and a few invalid examples (Hypothesis, no example database),
sent as a PortalAdmin through the real app; the only check is the one that matters here: no 5xx
(an unhandled error surfaces as an exception from the test client). Path parameters named
``usecase_id`` point at a real use case for non-DELETE calls, so the code behind the permission
check runs too. Routes added later are fuzzed without edits.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.portal.conftest import PortalHarness

EXAMPLES_PER_MODE = 6
SKIP_PATHS = {"/api/v1/auth/logout"}  # logging the fuzzer out would only test the 401 path afterwards


def _request(harness: PortalHarness, case: Any, headers: dict[str, str], usecase_id: str) -> int:
    if "usecase_id" in case.path_parameters and case.method.upper() != "DELETE":
        case.path_parameters["usecase_id"] = usecase_id
    kwargs: dict[str, Any] = {"params": case.query or None, "headers": {**(case.headers or {}), **headers}}
    body = case.body
    if isinstance(body, bytes | str):  # negative mode: bytes that need not be JSON at all
        kwargs["content"] = body
        kwargs["headers"].setdefault("content-type", case.media_type or "application/json")
    elif not _is_unset(body):
        kwargs["json"] = body
    response = harness.client.request(case.method.upper(), case.formatted_path, **kwargs)
    return response.status_code


def _is_unset(body: Any) -> bool:
    return type(body).__name__ == "NotSet"


@pytest.mark.slow
def test_openapi_fuzz_finds_no_server_errors(sqlite_portal: PortalHarness) -> None:
    harness = sqlite_portal
    harness.make_user("root", admin=True)
    admin = harness.login("root")
    usecase_id = harness.create_usecase(admin, "fuzzed")
    schema = schemathesis.openapi.from_dict(harness.client.get("/openapi.json").json())
    failures: list[str] = []
    operations = 0
    spent: dict[str, float] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIP_PATHS:
            continue
        operations += 1
        negatable = bool(len(operation.body) or len(operation.query))  # path strings cannot be invalid
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)[: 2 if negatable else 1]:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                status = _request(harness, case, admin, usecase_id)
                assert status < 500, f"{case.method} {case.formatted_path}: {status}"

            started = time.perf_counter()
            try:
                run()
            except Unsatisfiable:
                pass  # nothing about this operation can be made invalid (no parameters, no body)
            except Exception as exc:
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc!r}"[:600])
            spent[f"{operation.method.upper()} {operation.path} {mode.value}"] = time.perf_counter() - started
    print(sorted(spent.items(), key=lambda kv: -kv[1])[:8])
    assert operations >= 10
    assert not failures, "\n".join(failures)
