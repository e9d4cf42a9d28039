"""The station's FastAPI app: REST API, KServe v2, Prometheus metrics and the web UI on one port.

Startup (the reference's order): logging -> folders + database migrations -> default data ->
model registry -> result store (removes what a crash left half-written) -> workflows that were
running. Shutdown stops workflows (keeping their desired state), unloads models, closes the DB.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

import dda
from dda.core.logging import configure_logging, get_logger
from dda.core.settings import Settings, get_settings
from dda.station.agent.worker import Agent
from dda.station.api import (
    auth,
    decisions,
    health,
    kserve,
    models,
    plugins,
    results,
    sources,
    users,
    workflows,
)
from dda.station.api import (
    settings as settings_api,
)
from dda.station.api.errors import install_error_handlers
from dda.station.api.limits import BodyLimitMiddleware
from dda.station.api.web import find_web_dist, mount_web
from dda.station.context import Station, build_station
from dda.station.db.models import ImageSource
from dda.station.memory import tune_malloc
from dda.station.repositories import sources as sources_repo
from dda.station.services import auth as auth_service
from dda.station.services.model_registry import Loader, default_loader

log = get_logger(__name__)
DEFAULT_SOURCE = "File upload"


def seed_defaults(station: Station) -> None:
    """A fresh station gets an upload source, so the first workflow can be made at once."""
    with station.session() as session:
        if not sources_repo.list_all(session):
            session.add(ImageSource(name=DEFAULT_SOURCE, type="upload", config={"type": "upload"}, camera={}))


def start_station(settings: Settings, loader: Loader = default_loader) -> Station:
    tune_malloc()
    station = build_station(settings, loader)
    seed_defaults(station)
    with station.session() as session:
        if auth_service.setup_required(session):
            station.setup_guard.announce()
    station.store.start()
    station.workflows.restore()
    station.history.start(station)
    return station


def stop_station(station: Station) -> None:
    station.history.stop()
    station.workflows.shutdown()
    station.registry.close()
    station.engine.dispose()
    station.store.close()  # after the engine: it lets go of the database files last (journaled.py)


def create_app(
    settings: Settings | None = None,
    *,
    loader: Loader = default_loader,
    web_dist: Path | None = None,
    configure_logs: bool = True,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if configure_logs:
            configure_logging(settings.log_level, settings.log_json)
        station = await run_in_threadpool(start_station, settings, loader)
        app.state.station = station
        agent = Agent.for_station(station, interval_s=settings.station.agent_interval_s)
        if agent is not None:  # enrolled in a portal's fleet: follow its deployments
            agent.start()
        log.info("station ready", data_dir=str(settings.station_dir))
        try:
            yield
        finally:
            if agent is not None:
                await run_in_threadpool(agent.stop)
            await run_in_threadpool(stop_station, station)
            log.info("station stopped")

    app = FastAPI(
        title="DDA station",
        version=dda.__version__,
        description="Edge station (LocalServer): image sources, workflows, models, results, KServe v2.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware)
    routers = (auth, users, settings_api, plugins, sources, workflows, decisions, models, results, health)
    for router in (*routers, kserve):
        app.include_router(router.router)
    mount_web(app, web_dist if web_dist is not None else find_web_dist())
    return app
