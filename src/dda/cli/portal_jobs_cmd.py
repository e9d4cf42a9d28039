"""`dda portal worker` and `dda portal jobs ...`.

``worker`` runs jobs and works on the portal's database and object store (run it where the
portal's settings are: the portal machine or a worker machine). ``jobs list / show / logs /
cancel / retry / train`` talk to a running portal over HTTP through :mod:`dda.client`, as the
user you logged in as (`dda portal login`, or DDA_PORTAL_URL + DDA_PORTAL_TOKEN)."""

from __future__ import annotations

import json
import signal
import threading
import time
from typing import Annotated, Any

import typer

from dda.cli._common import fail, handle_errors

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


UseCaseArg = Annotated[str, typer.Argument(help="use case name or id")]
TERMINAL = {"succeeded", "failed", "cancelled"}


def _client() -> Any:
    from dda.cli.portal_remote import _client as remote_client

    return remote_client()


def _line(job: Any) -> str:
    step = job.current_step[:30]
    return f"{job.id}  {job.type:<12} {job.status:<10} {job.progress:5.1f}%  {step:<30} {job.name}"


@jobs_app.command("list")
@handle_errors
def list_(
    usecase: UseCaseArg,
    status: Annotated[str | None, typer.Option(help="queued, running, succeeded, failed, cancelled")] = None,
    job_type: Annotated[str | None, typer.Option("--type", help="training, compilation, ...")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """The use case's jobs, newest first."""
    filters = {k: v for k, v in (("status", status), ("type", job_type)) if v is not None}
    with _client() as client:
        jobs = client.jobs.iter(client.usecases.find(usecase).id, page_size=min(limit, 200), **filters)
        for index, job in enumerate(jobs):
            if index >= limit:
                break
            typer.echo(_line(job))


@jobs_app.command("show")
@handle_errors
def show(usecase: UseCaseArg, job_id: str) -> None:
    """One job as JSON (parameters, status, timings, result, error, its pipeline chain)."""
    with _client() as client:
        job = client.jobs.get(client.usecases.find(usecase).id, job_id)
    typer.echo(json.dumps(job.model_dump(mode="json"), indent=2))


@jobs_app.command("logs")
@handle_errors
def logs(
    usecase: UseCaseArg,
    job_id: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing until the job ends")] = False,
    interval: Annotated[float, typer.Option(min=0.2, max=60, help="--follow: seconds between polls")] = 1.0,
) -> None:
    """The job's log lines (with --follow, new ones as they come, until the job ends)."""
    with _client() as client:
        usecase_id = client.usecases.find(usecase).id
        after = 0
        while True:
            ended = client.jobs.get(usecase_id, job_id).status in TERMINAL
            while batch := client.jobs.logs(usecase_id, job_id, kind="log", after=after):
                for item in batch:
                    typer.echo(f"{item.at.isoformat(timespec='seconds')} {item.level:<7} {item.message}")
                after = batch[-1].seq
            if ended or not follow:
                return
            time.sleep(interval)


@jobs_app.command("cancel")
@handle_errors
def cancel(usecase: UseCaseArg, job_id: str) -> None:
    """Cancel a queued job, or ask a running one to stop."""
    with _client() as client:
        job = client.jobs.cancel(client.usecases.find(usecase).id, job_id)
    typer.echo(f"{job.id}: {'cancelled' if job.status == 'cancelled' else 'cancel requested'}")


@jobs_app.command("retry")
@handle_errors
def retry(usecase: UseCaseArg, job_id: str) -> None:
    """Run a failed or cancelled job again (a pipeline resumes from it); prints the new job's id."""
    with _client() as client:
        job = client.jobs.retry(client.usecases.find(usecase).id, job_id)
    typer.echo(job.id)


@jobs_app.command("train")
@handle_errors
def train(
    usecase: UseCaseArg,
    dataset_version: Annotated[
        str | None, typer.Option("--dataset-version", help="dataset version id")
    ] = None,
    store_prefix: Annotated[
        str | None, typer.Option("--store-prefix", help="or: a folder of the use case's store")
    ] = None,
    model_type: Annotated[str, typer.Option("--type", "-t")] = "classification",
    model_name: Annotated[str, typer.Option("--name")] = "model",
    epochs: Annotated[int | None, typer.Option(min=1, max=1000)] = None,
    device: Annotated[
        str | None,
        typer.Option(help="auto (CUDA when the worker's torch sees a GPU), cpu or cuda (fails without one)"),
    ] = None,
    publish: Annotated[bool, typer.Option("--publish", help="then compile, package and publish")] = False,
    target: Annotated[
        list[str] | None, typer.Option("--target", help="--publish: a compilation target (repeatable)")
    ] = None,
    precision: Annotated[
        list[str] | None, typer.Option("--precision", help="--publish: fp32 and/or int8 (repeatable)")
    ] = None,
) -> None:
    """Queue a training job (with --publish: the whole train-and-publish chain); prints its id."""
    if (dataset_version is None) == (store_prefix is None):
        raise fail("name the dataset", hint="give exactly one of --dataset-version or --store-prefix")
    dataset = {"version_id": dataset_version} if dataset_version else {"store_prefix": store_prefix}
    params: dict[str, Any] = {"dataset": dataset, "model_type": model_type, "model_name": model_name}
    options = {k: v for k, v in (("epochs", epochs), ("device", device)) if v is not None}
    if options:
        params["options"] = options
    with _client() as client:
        usecase_id = client.usecases.find(usecase).id
        if publish:
            chain = {k: v for k, v in (("targets", target), ("precisions", precision)) if v}
            job = client.jobs.train_and_publish(usecase_id, params, **chain)
        else:
            job = client.jobs.submit(usecase_id, "training", params)
    typer.echo(job.id)


def register(portal_app: typer.Typer) -> None:
    portal_app.command("worker")(worker)
    portal_app.add_typer(jobs_app, name="jobs")
