"""Celery transport for jobs: the API sends a job id to the job's queue; `dda portal worker`
consumes its queues with a thread pool (each job runs in its own child process, as embedded).
Celery carries ids only: parameters, progress and outcome live in the database."""

from __future__ import annotations

import threading
from typing import Any

from dda.core.errors import InvalidInput
from dda.core.settings import Settings
from dda.portal.context import Portal
from dda.portal.db import Job
from dda.portal.jobs import service
from dda.portal.jobs.models import JobStatus

TASK = "dda.portal.run_job"
_APPS: dict[str, Any] = {}
_LOCK = threading.Lock()


def broker_url(settings: Settings) -> str:
    url = settings.portal.broker_url or settings.portal.redis_url
    if not url:
        raise InvalidInput(
            "the celery executor needs a broker",
            hint="set DDA_PORTAL__BROKER_URL=redis://host:6379/0 or amqp://...",
        )
    return url


def celery_app(settings: Settings) -> Any:
    from celery import Celery

    url = broker_url(settings)
    with _LOCK:
        app = _APPS.get(url)
        if app is None:
            app = Celery("dda-portal", broker=url, set_as_current=False)
            app.conf.update(
                task_default_queue="default",
                task_ignore_result=True,
                worker_prefetch_multiplier=1,
                broker_connection_retry_on_startup=True,
                broker_connection_timeout=5,
                worker_hijack_root_logger=False,
                worker_redirect_stdouts=False,
            )
            _APPS[url] = app
        return app


def send(settings: Settings, job_id: str, queue: str, countdown: float | None = None) -> None:
    celery_app(settings).send_task(
        TASK, args=[job_id], queue=settings.portal.queue_prefix + queue, countdown=countdown
    )


def run_job(portal: Portal, job_id: str) -> None:
    """The task body: claim the row and run it; a job held back by its use case's concurrency
    limit goes back on its queue after a poll interval."""
    from dda.portal.jobs.executors import owner_name
    from dda.portal.jobs.worker import run_claimed

    cfg = portal.settings.portal
    owner = owner_name("celery")
    with portal.session() as session:
        claimed = service.claim(session, job_id, owner, cfg.job_lease_s, cfg.job_concurrency_per_usecase)
    if claimed:
        run_claimed(portal, job_id, owner)
        return
    with portal.session() as session:
        row = session.get(Job, job_id)
        waiting = row is not None and row.status == JobStatus.QUEUED.value
        queue = row.queue if row is not None else "default"
    if waiting:
        send(portal.settings, job_id, queue, countdown=cfg.job_poll_s)


def worker_app(portal: Portal) -> Any:
    app = celery_app(portal.settings)

    @app.task(name=TASK, ignore_result=True)  # type: ignore[untyped-decorator]
    def run(job_id: str) -> None:
        run_job(portal, job_id)

    return app
