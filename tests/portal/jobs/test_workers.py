"""`dda portal worker` processes: Celery on Redis (the whole train-and-publish chain) and on
RabbitMQ, and a worker killed with SIGKILL mid-job, whose job the lease reaper marks failed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.portal.jobs.chain import check_compiled, check_published, follow, start_chain
from tests.portal.jobs.conftest import (
    FAST,
    TINY,
    setup_usecase,
    upload_dataset,
    upload_discs,
    wait_done,
    wait_job,
)
from tests.procs import stop_process

pytestmark = pytest.mark.slow
REDIS = "redis://127.0.0.1:6379/0"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


def _reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _env(data_dir: Path, portal: dict[str, object]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDA_")}
    env.update(DDA_DATA_DIR=str(data_dir), DDA_ENV="test", DDA_LOG_LEVEL="WARNING")
    src = str(Path(__file__).resolve().parents[3] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    for key, value in portal.items():
        env[f"DDA_PORTAL__{key.upper()}"] = value if isinstance(value, str) else str(value)
    return env


@pytest.fixture
def start_worker(isolated_settings: Path, tmp_path: Path) -> Iterator[object]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(portal: dict[str, object], *queues: str) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-c", "from dda.cli.main import main; main()", "portal", "worker", "-c", "2"]
        if queues:
            args += ["--queues", ",".join(queues)]
        log = open(tmp_path / f"worker-{len(procs)}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            args, env=_env(isolated_settings, portal), stdout=log, stderr=subprocess.STDOUT
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            stop_process(proc)


def _celery(broker: str) -> dict[str, object]:
    return {**FAST, "executor": "celery", "broker_url": broker, "queue_prefix": f"t{uuid.uuid4().hex[:8]}-"}


@pytest.mark.timeout(1800)  # minutes on an idle box; far more on a shared, loaded one
def test_celery_on_redis_runs_the_chain(make_portal, start_worker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if not _reachable(6379):
        pytest.skip("no Redis on 127.0.0.1:6379")
    settings = _celery(REDIS)
    harness = make_portal(None, **settings)
    headers, usecase_id = setup_usecase(harness)
    # Specialised workers: one takes training, the other everything else.
    start_worker(settings, "train")
    start_worker(settings, "default")
    dataset = upload_discs(harness, usecase_id, tmp_path)
    train = wait_done(harness, headers, usecase_id, start_chain(harness, headers, usecase_id, dataset))
    assert train["status"] == "succeeded", (train["error"], train["error_hint"])
    assert train["worker"].startswith("celery:")
    compiled, _, _ = follow(harness, headers, usecase_id, train, "compilation", "packaging", "publishing")
    check_published(harness, headers, usecase_id, tmp_path / "published", check_compiled(compiled))


def test_celery_on_rabbitmq_runs_a_job(make_portal, start_worker) -> None:  # type: ignore[no-untyped-def]
    if not _reachable(5672):
        pytest.skip("no RabbitMQ on 127.0.0.1:5672")
    settings = _celery(RABBITMQ)
    harness = make_portal(None, **settings)
    headers, usecase_id = setup_usecase(harness)
    start_worker(settings)
    # A compilation of a model that is not there: the worker claims it, runs the handler, and the
    # handler's own reason comes back.
    body = {"type": "compilation", "parameters": {"model": {"artifact_key": "models/none/model.tar.gz"}}}
    job_id = harness.client.post(f"/api/v1/usecases/{usecase_id}/jobs", json=body, headers=headers).json()[
        "id"
    ]
    job = wait_done(harness, headers, usecase_id, job_id)
    assert job["status"] == "failed"
    assert job["error"] == "the model artifact is not in the use case's store"
    assert job["worker"].startswith("celery:")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def test_sigkilled_worker_never_leaves_a_job_running(make_portal, start_worker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = {**FAST, "job_lease_s": 4.0}
    harness = make_portal(None, **{**settings, "job_workers": 0})  # only the worker process runs jobs
    headers, usecase_id = setup_usecase(harness)
    dataset = upload_dataset(harness, usecase_id, tmp_path)
    worker = start_worker(settings)
    options = {**TINY, "epochs": 200, "patience": 200}
    body = {"type": "training", "parameters": {"dataset": dataset, "options": options}}
    job_id = harness.client.post(f"/api/v1/usecases/{usecase_id}/jobs", json=body, headers=headers).json()[
        "id"
    ]
    wait_job(harness, headers, usecase_id, job_id, lambda j: j["current_step"].startswith("epoch"))
    job_processes = _children(worker.pid)
    assert job_processes  # the job runs in a child of the worker
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    job = wait_done(harness, headers, usecase_id, job_id, timeout=120)
    assert job["status"] == "failed"
    assert "stopped answering" in job["error"]
    # The job process died with its worker (it would otherwise keep training unsupervised).
    wait_job(
        harness, headers, usecase_id, job_id, lambda j: not any(_alive(p) for p in job_processes), timeout=30
    )
    # Retrying puts the work on any live worker again.
    retried = harness.client.post(f"/api/v1/usecases/{usecase_id}/jobs/{job_id}/retry", headers=headers)
    assert retried.status_code == 201 and retried.json()["attempt"] == 2
