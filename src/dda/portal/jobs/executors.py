"""Executors: who runs queued jobs.

- ``embedded`` (default): a pool of threads in `dda portal serve` (or `dda portal worker`) that
  claims queued rows from the database and runs each in a child process.
- ``celery``: job ids go to Celery (Redis or RabbitMQ) on the job's queue; `dda portal worker`
  processes consume the queues they are given (e.g. a GPU machine takes ``train``).

Either way the database row is the truth, and every portal and worker process runs the
maintenance loop that reaps jobs whose worker died.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.orm import Session

from dda.core.logging import get_logger
from dda.core.settings import Settings
from dda.portal.context import Portal
from dda.portal.jobs import service

log = get_logger(__name__)
WAKE = threading.Event()  # wakes this process's embedded pool when a job is queued here


def dispatch(settings: Settings, jobs: Sequence[tuple[str, str]]) -> None:
    """Hand queued jobs (id, queue) to the executor; the embedded pool also polls, so a lost wake-up
    costs at most one poll interval."""
    if not jobs:
        return
    if settings.portal.executor == "celery":
        from dda.portal.jobs.celery_app import send

        for job_id, queue in jobs:
            try:
                send(settings, job_id, queue)
            except Exception as exc:  # the row stays queued and visible; nothing is lost
                log.warning("could not hand a job to the broker", job_id=job_id, error=type(exc).__name__)
        return
    WAKE.set()


def dispatch_after_commit(session: Session, settings: Settings, jobs: Sequence[tuple[str, str]]) -> None:
    """Dispatch once the transaction that queued the rows is committed (workers must see them)."""
    pending = list(jobs)
    event.listen(session, "after_commit", lambda _s: dispatch(settings, pending), once=True)


def owner_name(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@dataclass
class Background:
    """The threads a portal or worker process runs: the embedded pool and the reaper."""

    portal: Portal
    queues: list[str]
    workers: int
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Background:
        for index in range(self.workers):
            self._spawn(self._pool_loop, f"dda-job-pool-{index}")
        self._spawn(self._reaper_loop, "dda-job-reaper")
        return self

    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self.threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        WAKE.set()
        for thread in self.threads:
            thread.join(timeout)

    def _claim_one(self, owner: str) -> str | None:
        cfg = self.portal.settings.portal
        with self.portal.session() as session:
            candidates = service.next_candidates(session, self.queues)
        for job_id in candidates:
            with self.portal.session() as session:
                if service.claim(session, job_id, owner, cfg.job_lease_s, cfg.job_concurrency_per_usecase):
                    return job_id
        return None

    def _pool_loop(self) -> None:
        from dda.portal.jobs.worker import run_claimed

        owner = owner_name("embedded")
        while not self.stopping.is_set():
            try:
                job_id = self._claim_one(owner)
            except Exception as exc:  # database briefly away: try again later
                log.warning("job pool could not claim", error=type(exc).__name__)
                job_id = None
            if job_id is None:
                WAKE.wait(self.portal.settings.portal.job_poll_s)
                WAKE.clear()
                continue
            run_claimed(self.portal, job_id, owner)

    def _reaper_loop(self) -> None:
        interval = max(0.5, min(self.portal.settings.portal.job_lease_s / 3, 30.0))
        while not self.stopping.wait(interval):
            try:
                reap_once(self.portal)
            except Exception as exc:
                log.warning("job reaper failed", error=type(exc).__name__)


def reap_once(portal: Portal) -> int:
    with portal.session() as session:
        requeued = [(j.id, j.queue) for j in service.reap(session)]
    dispatch(portal.settings, requeued)
    return len(requeued)


def start_background(portal: Portal) -> Background:
    """For `dda portal serve`: the embedded pool (when that is the executor) and the reaper."""
    cfg = portal.settings.portal
    workers = cfg.job_workers if cfg.executor == "embedded" else 0
    return Background(portal, list(cfg.job_queues), workers).start()
