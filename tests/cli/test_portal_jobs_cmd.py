"""`dda portal jobs ...` against a real `dda portal serve`, over HTTP through dda.client: submit,
list, show, logs, cancel, retry, and the errors a user sees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dda.cli.main import app
from dda.client import PortalClient
from tests.cli.test_portal_remote import _cli, _dda
from tests.portal.conftest import PASSWORD
from tests.portal.portal_process import portal_env, running_portal

pytestmark = pytest.mark.slow


def test_worker_command_is_offered() -> None:
    from typer.testing import CliRunner

    assert "worker" in CliRunner().invoke(app, ["portal", "--help"]).output


def test_jobs_commands_against_a_served_portal(tmp_path: Path) -> None:
    # No job slots on the server: jobs stay queued, so cancel and retry see them as submitted.
    server_env = portal_env(
        tmp_path / "server", DDA_SECRET_KEY="cli-jobs-secret-" + "x" * 32, DDA_PORTAL__JOB_WORKERS="0"
    )
    _dda({**server_env, "DDA_ADMIN_PASSWORD": PASSWORD}, "portal", "create-admin", "root")
    with running_portal(server_env, tmp_path / "serve.log") as url:
        with PortalClient(url) as client:
            client.auth.login("root", PASSWORD)
            client.usecases.create("line-1")
        env = {"DDA_DATA_DIR": str(tmp_path / "client"), "DDA_ENV": "test", "DDA_PORTAL_PASSWORD": PASSWORD}
        logged_out = _cli(env, "portal", "jobs", "list", "line-1", ok=False)
        assert logged_out.returncode == 1 and "dda portal login" in logged_out.stderr
        _cli(env, "portal", "login", url, "-u", "root")
        submitted = _cli(
            env, "portal", "jobs", "train", "line-1", "--store-prefix", "datasets/x", "--epochs", "2",
            "--device", "cpu",
        )  # fmt: skip
        job_id = submitted.stdout.strip().splitlines()[-1]
        listed = _cli(env, "portal", "jobs", "list", "line-1", "--status", "queued").stdout
        assert job_id in listed and "training" in listed
        shown = json.loads(_cli(env, "portal", "jobs", "show", "line-1", job_id).stdout)
        assert shown["parameters"]["options"] == {"epochs": 2, "device": "cpu"}
        assert shown["pipeline"] is False and shown["status"] == "queued"
        assert f"{job_id}: cancelled" in _cli(env, "portal", "jobs", "cancel", "line-1", job_id).stdout
        assert "cancelled while queued" in _cli(env, "portal", "jobs", "logs", "line-1", job_id).stdout
        followed = _cli(env, "portal", "jobs", "logs", "line-1", job_id, "--follow").stdout
        assert "cancelled while queued" in followed  # a finished job: --follow returns at once
        retried = _cli(env, "portal", "jobs", "retry", "line-1", job_id).stdout.strip()
        assert retried and retried != job_id
        chain = _cli(
            env, "portal", "jobs", "train", "line-1", "--store-prefix", "datasets/x", "--publish",
            "--target", "x86_64-cuda", "--precision", "fp32",
        ).stdout.strip()  # fmt: skip
        with PortalClient(url) as client:
            client.auth.login("root", PASSWORD)
            usecase_id = client.usecases.find("line-1").id
            job = client.jobs.get(usecase_id, chain)
        assert job.pipeline and job.parameters["pipeline"]["targets"] == ["x86_64-cuda"]
        unknown = _cli(env, "portal", "jobs", "show", "line-1", "nope", ok=False)
        assert unknown.returncode == 1 and "Traceback" not in unknown.stderr + unknown.stdout
        no_usecase = _cli(env, "portal", "jobs", "list", "line-9", ok=False)
        assert no_usecase.returncode == 1 and "no use case 'line-9'" in no_usecase.stderr
        no_dataset = _cli(env, "portal", "jobs", "train", "line-1", ok=False)
        assert no_dataset.returncode == 1 and "--dataset-version or --store-prefix" in no_dataset.stderr
