"""`dda portal worker` and `dda portal jobs ...`: run jobs, and list / show / follow / cancel /
retry / submit them. These commands work on the portal's database (run them where the portal's
settings are: the portal machine or a worker machine)."""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated, Any

import typer

from dda.cli._common import handle_errors

jobs_app = typer.Typer(help="List, follow, cancel, retry and submit portal jobs.", no_args_is_help=True)


def _portal() -> Any:
    from dda.core.settings import get_settings
    from dda.portal.context import build_portal

    return build_portal(get_settings())


@handle_errors
def worker(
    queues: Annotated[
        str | None, typer.Option("--queues", "-Q", help="comma-separated, e.g. train,default")
    ] = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-c", min=1, max=64)] = None,
) -> None:
    """Run jobs from the given queues (Celery or, with the embedded executor, the database)."""
    from dda.portal.jobs.executors import Background

    portal = _portal()
    cfg = portal.settings.portal
    chosen = [q.strip() for q in (queues or ",".join(cfg.job_queues)).split(",") if q.strip()]
    threads = concurrency or max(1, cfg.job_workers)
    typer.echo(
        f"DDA portal worker ({cfg.executor}) on queues {', '.join(chosen)} with {threads} slots", err=True
    )
    if cfg.executor == "celery":
        from dda.portal.jobs.celery_app import worker_app

        background = Background(portal, chosen, 0).start()  # the reaper
        argv = [
            "worker",
            "-Q",
            ",".join(cfg.queue_prefix + q for q in chosen),
            "-P",
            "threads",
            "-c",
            str(threads),
            "-l",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        try:
            worker_app(portal).worker_main(argv)
        finally:
            background.stop()
            portal.close()
        return
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    background = Background(portal, chosen, threads).start()
    done.wait()
    background.stop()
    portal.close()


def _usecase_id(session: Any, usecase: str) -> str:
    from dda.portal.repositories import usecases as usecases_repo

    row = usecases_repo.by_id(session, usecase) or usecases_repo.by_name(session, usecase)
    if row is None:
        raise typer.BadParameter(f"no use case {usecase!r}")
    return str(row.id)


def _line(row: Any) -> str:
    step = row.current_step[:30]
    return f"{row.id}  {row.type:<12} {row.status:<10} {row.progress:5.1f}%  {step:<30} {row.name}"


@jobs_app.command("list")
@handle_errors
def list_(
    usecase: Annotated[str, typer.Argument(help="use case name or id")],
    status: Annotated[str | None, typer.Option(help="queued, running, succeeded, failed, cancelled")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """The use case's jobs, newest first."""
    from dda.portal.jobs import service

    portal = _portal()
    with portal.session() as session:
        for row in service.list_jobs(session, _usecase_id(session, usecase), status=status, limit=limit):
            typer.echo(_line(row))
    portal.close()


@jobs_app.command("show")
@handle_errors
def show(usecase: str, job_id: str) -> None:
    """One job as JSON (parameters, status, timings, result, error)."""
    from dda.portal.jobs import service
    from dda.portal.schemas.jobs import job_out

    portal = _portal()
    with portal.session() as session:
        row = service.get(session, _usecase_id(session, usecase), job_id)
        typer.echo(json.dumps(job_out(row).model_dump(mode="json"), indent=2))
    portal.close()


@jobs_app.command("logs")
@handle_errors
def logs(usecase: str, job_id: str) -> None:
    """The job's log lines."""
    from dda.portal.jobs import service

    portal = _portal()
    with portal.session() as session:
        service.get(session, _usecase_id(session, usecase), job_id)
        for item in service.events(session, job_id, kind="log", limit=100_000):
            typer.echo(f"{item.at.isoformat(timespec='seconds')} {item.level:<7} {item.message}")
    portal.close()


@jobs_app.command("cancel")
@handle_errors
def cancel(usecase: str, job_id: str) -> None:
    """Cancel a queued job, or ask a running one to stop."""
    from dda.portal.jobs import service

    portal = _portal()
    with portal.session() as session:
        row = service.get(session, _usecase_id(session, usecase), job_id)
        service.request_cancel(session, row)
        typer.echo(f"{row.id}: {'cancelled' if row.status == 'cancelled' else 'cancel requested'}")
    portal.close()


@jobs_app.command("retry")
@handle_errors
def retry(usecase: str, job_id: str) -> None:
    """Run a failed or cancelled job again (a pipeline resumes from it)."""
    from dda.portal.jobs import service
    from dda.portal.jobs.executors import dispatch_after_commit

    portal = _portal()
    with portal.session() as session:
        row = service.get(session, _usecase_id(session, usecase), job_id)
        copy = service.retry(session, row, None)
        dispatch_after_commit(session, portal.settings, [(copy.id, copy.queue)])
        typer.echo(copy.id)
    portal.close()


@jobs_app.command("train")
@handle_errors
def train(
    usecase: Annotated[str, typer.Argument(help="use case name or id")],
    dataset_version: Annotated[
        str | None, typer.Option("--dataset-version", help="dataset version id")
    ] = None,
    store_prefix: Annotated[
        str | None, typer.Option("--store-prefix", help="or: a folder of the use case's store")
    ] = None,
    model_type: Annotated[str, typer.Option("--type", "-t")] = "classification",
    model_name: Annotated[str, typer.Option("--name")] = "model",
    epochs: Annotated[int | None, typer.Option(min=1, max=1000)] = None,
    publish: Annotated[bool, typer.Option("--publish", help="then compile, package and publish")] = False,
) -> None:
    """Queue a training job (with --publish: the whole train-and-publish chain)."""
    from dda.portal.jobs import submit

    dataset = {"version_id": dataset_version} if dataset_version else {"store_prefix": store_prefix}
    params: dict[str, Any] = {"dataset": dataset, "model_type": model_type, "model_name": model_name}
    if epochs is not None:
        params["options"] = {"epochs": epochs}
    portal = _portal()
    with portal.session() as session:
        row = submit.training(
            session, portal, _usecase_id(session, usecase), params, created_by=None, publish=publish
        )
        typer.echo(row.id)
    portal.close()


def register(portal_app: typer.Typer) -> None:
    portal_app.command("worker")(worker)
    portal_app.add_typer(jobs_app, name="jobs")
