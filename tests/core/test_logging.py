from __future__ import annotations

import json

import pytest

from dda.core.logging import bind_context, configure_logging, get_logger


def test_json_lines_carry_bound_ids_and_hide_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    log = get_logger("test")
    with bind_context(request_id="req-1", job_id="job-9"):
        log.info("hello", password="hunter2", count=3)
    log.info("after")
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    first, second = lines[-2], lines[-1]
    assert first["event"] == "hello"
    assert first["request_id"] == "req-1" and first["job_id"] == "job-9"
    assert first["password"] == "***"
    assert first["count"] == 3
    assert "request_id" not in second


def test_console_renderer_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=False)
    get_logger("test").warning("plain words", item="x")
    err = capsys.readouterr().err
    assert "plain words" in err and "item" in err
