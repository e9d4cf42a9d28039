"""Run one claimed job: the work happens in a child process (a crash or a hung library cannot
take the API or the worker down), the parent keeps the lease alive, passes cancel requests and
timeouts to the child, and records the outcome if the child could not."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path

from dda.core.logging import get_logger
from dda.core.settings import Settings
from dda.portal.context import Portal
from dda.portal.db import Job
from dda.portal.jobs import service
from dda.portal.jobs.models import JobStatus

log = get_logger(__name__)
PR_SET_PDEATHSIG = 1


@dataclass
class _Signals:
    cancel: Event
    timeout: Event


def work_root(settings: Settings) -> Path:
    return Path(settings.portal_dir) / "work"


def run_claimed(portal: Portal, job_id: str, owner: str) -> None:
    """Supervise the child that runs ``job_id`` until it ends; never raises."""
    spawn = multiprocessing.get_context("spawn")
    signals = _Signals(spawn.Event(), spawn.Event())
    child = spawn.Process(
        target=child_main,
        args=(portal.settings, job_id, owner, signals.cancel, signals.timeout, os.getpid()),
        name=f"dda-job-{job_id[:8]}",
        daemon=True,
    )
    child.start()
    reason = ""
    try:
        reason = _supervise(portal, job_id, owner, child, signals)
    except Exception as exc:  # the database went away: stop the work, the reaper records it
        log.warning("job supervision failed", job_id=job_id, error=type(exc).__name__)
        _end(child)
        return
    _record_exit(portal, job_id, owner, child.exitcode, reason)


def _supervise(
    portal: Portal, job_id: str, owner: str, child: multiprocessing.process.BaseProcess, signals: _Signals
) -> str:
    cfg = portal.settings.portal
    reason, asked_at = "", 0.0
    started = time.monotonic()
    while True:
        child.join(cfg.job_heartbeat_s)
        if not child.is_alive():
            return reason
        with portal.session() as session:
            beat = service.heartbeat(session, job_id, owner, cfg.job_lease_s)
        if not beat.alive:
            # The child finished the row (and is handing on the chain's next step), or the job
            # was reaped; either way let the child end by itself before stopping it.
            child.join(max(10.0, cfg.job_cancel_grace_s))
            _end(child)
            return "lost"
        if not reason:
            if beat.cancel_requested:
                reason = "cancelled"
                signals.cancel.set()
            elif time.monotonic() - started > beat.timeout_s:
                reason = "timeout"
                signals.timeout.set()
            asked_at = time.monotonic()
        elif time.monotonic() - asked_at > cfg.job_cancel_grace_s:
            _end(child)
            return reason


def _end(child: multiprocessing.process.BaseProcess) -> None:
    child.terminate()
    child.join(5)
    if child.is_alive():
        child.kill()
        child.join(5)


def _record_exit(portal: Portal, job_id: str, owner: str, exitcode: int | None, reason: str) -> None:
    """The child records its own outcome; this covers a child that died or was terminated."""
    if reason == "lost":
        return
    with portal.session() as session:
        row = session.get(Job, job_id, populate_existing=True)
        if row is None or row.status != JobStatus.RUNNING.value or row.lease_owner != owner:
            return
        if reason == "cancelled":
            service.finish(session, job_id, owner, JobStatus.CANCELLED, error="cancelled")
        elif reason == "timeout":
            service.finish(
                session,
                job_id,
                owner,
                JobStatus.FAILED,
                error=f"timed out after {row.timeout_s} s",
                hint="raise the job's timeout_s or train fewer epochs",
            )
        else:
            service.finish(
                session,
                job_id,
                owner,
                JobStatus.FAILED,
                error=f"the job process ended unexpectedly (exit code {exitcode})",
                hint="see the job log; out of memory is a common cause",
            )


def _die_with_parent(parent_pid: int) -> None:
    """On Linux the kernel kills this process when its parent dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)


def _watch(stop: object, signals: _Signals, parent_pid: int) -> None:
    from dda.ml.training.signals import GracefulStop

    assert isinstance(stop, GracefulStop)
    while True:
        if os.getppid() != parent_pid:  # orphaned (where PDEATHSIG is not available)
            os._exit(1)
        if signals.timeout.is_set():
            stop.request("timeout")
        elif signals.cancel.is_set():
            stop.request("cancelled")
        time.sleep(0.2)


def child_main(
    settings: Settings, job_id: str, owner: str, cancel: Event, timeout: Event, parent_pid: int
) -> None:
    """Entry point of the job process."""
    _die_with_parent(parent_pid)
    from dda.ml.training.signals import GracefulStop
    from dda.portal.context import build_portal
    from dda.portal.jobs.runner import execute

    portal = build_portal(settings, run_migrations=False)
    stop = GracefulStop(announce=False)
    threading.Thread(target=_watch, args=(stop, _Signals(cancel, timeout), parent_pid), daemon=True).start()
    root = work_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    workdir = root / job_id
    try:
        execute(portal, job_id, owner, workdir, stop)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        portal.close()
