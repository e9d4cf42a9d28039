"""`dda portal jobs ...` on the portal's database: submit, list, show, logs, cancel, retry."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dda.cli.main import app
from dda.core.settings import get_settings
from dda.portal.context import build_portal
from dda.portal.db import UseCase

runner = CliRunner()


def test_jobs_commands(isolated_settings: Path) -> None:
    portal = build_portal(get_settings())
    with portal.session() as session:
        session.add(UseCase(name="line-1", settings={}))
    portal.close()
    assert "worker" in runner.invoke(app, ["portal", "--help"]).output
    submitted = runner.invoke(
        app, ["portal", "jobs", "train", "line-1", "--store-prefix", "datasets/x", "--epochs", "2"]
    )
    assert submitted.exit_code == 0, submitted.output
    job_id = submitted.output.strip().splitlines()[-1]
    listed = runner.invoke(app, ["portal", "jobs", "list", "line-1"])
    assert job_id in listed.output and "queued" in listed.output
    output = runner.invoke(app, ["portal", "jobs", "show", "line-1", job_id]).output
    shown = json.loads(output[output.index("{\n") : output.rindex("\n}") + 2])
    assert shown["parameters"]["options"] == {"epochs": 2} and shown["pipeline"] is False
    cancelled = runner.invoke(app, ["portal", "jobs", "cancel", "line-1", job_id])
    assert "cancelled" in cancelled.output
    assert "cancelled while queued" in runner.invoke(app, ["portal", "jobs", "logs", "line-1", job_id]).output
    retried = runner.invoke(app, ["portal", "jobs", "retry", "line-1", job_id])
    assert retried.exit_code == 0 and retried.output.strip() != job_id
    unknown = runner.invoke(app, ["portal", "jobs", "show", "line-1", "nope"])
    assert unknown.exit_code != 0 and "Traceback" not in unknown.output
