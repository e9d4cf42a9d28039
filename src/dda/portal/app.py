"""The portal's FastAPI app: REST API under /api/v1, OpenAPI at /docs, Prometheus /metrics.

API processes keep no state of their own (database, object store and, for throttling across
processes, Redis hold it all), so a plant scales the API by running more of them behind a proxy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

import dda
from dda.core.logging import configure_logging, get_logger
from dda.core.settings import Settings, get_settings
from dda.portal.api import (
    agent,
    audit,
    auth,
    components,
    data,
    data_locations,
    dataset_sources,
    datasets,
    deployments,
    devices,
    health,
    jobs,
    labeling,
    models,
    team,
    tokens,
    usecases,
    users,
)
from dda.portal.api.audit_middleware import install_audit
from dda.portal.api.errors import install_error_handlers
from dda.portal.api.web import find_web_dist, mount_web
from dda.portal.context import Portal, build_portal
from dda.portal.jobs.executors import start_background

log = get_logger(__name__)
ROUTERS = [
    auth,
    health,
    usecases,
    users,
    team,
    tokens,
    data_locations,
    audit,
    data,
    datasets,
    dataset_sources,
    models,
    jobs,
    components,
    labeling,
    devices,
    deployments,
    agent,
]
DESCRIPTION = "Use cases, users, roles, audit, data, datasets, model registry, jobs, devices, deployments."


def create_app(
    settings: Settings | None = None,
    *,
    configure_logs: bool = True,
    on_ready: Callable[[Portal], None] | None = None,
    web_dist: Path | None = None,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if configure_logs:
            configure_logging(settings.log_level, settings.log_json)
        portal = await run_in_threadpool(build_portal, settings)
        app.state.portal = portal
        app.state.jobs = start_background(portal)  # the embedded job pool and the job reaper
        if on_ready is not None:
            on_ready(portal)
        log.info("portal ready")
        try:
            yield
        finally:
            await run_in_threadpool(app.state.jobs.stop)
            await run_in_threadpool(portal.close)

    app = FastAPI(
        title="DDA portal",
        version=dda.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_audit(app)
    for module in ROUTERS:
        app.include_router(module.router)
    # After the routers: the web UI's catch-all must never shadow an API route.
    mount_web(app, web_dist if web_dist is not None else find_web_dist())
    return app
