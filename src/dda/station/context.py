"""The running station: every long-lived part, built once by the app's lifespan (or the CLI)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dda.core.settings import Settings
from dda.station.database import migrate, open_database
from dda.station.paths import StationPaths
from dda.station.services.metrics import StationMetrics
from dda.station.services.model_registry import Loader, ModelRegistry, default_loader
from dda.station.services.pipeline import Inspector
from dda.station.services.result_store import ResultStore

if TYPE_CHECKING:
    from dda.station.services.workflows import WorkflowManager

MB = 1024 * 1024


@dataclass
class Station:
    settings: Settings
    paths: StationPaths
    engine: Engine
    sessions: sessionmaker[Session]
    registry: ModelRegistry
    store: ResultStore
    metrics: StationMetrics
    inspector: Inspector
    started_at: float = field(default_factory=time.time)
    workflows: WorkflowManager = field(init=False)  # set by build_station: it needs the station

    @property
    def secret_key(self) -> str:
        return self.settings.secret_key.get_secret_value()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on error."""
        with self.sessions() as session, session.begin():
            yield session


def build_station(settings: Settings, loader: Loader = default_loader) -> Station:
    """Create folders, migrate the database and wire the parts together (nothing started yet)."""
    from dda.station.services.workflows import WorkflowManager

    paths = StationPaths.from_settings(settings)
    paths.ensure()
    url = settings.station_database_url
    migrate(url)
    engine, sessions = open_database(url)
    metrics = StationMetrics()
    registry = ModelRegistry(paths.model_repo, loader)
    store = ResultStore(paths.results, sessions, settings.station.storage_quota_mb * MB)
    station = Station(
        settings=settings,
        paths=paths,
        engine=engine,
        sessions=sessions,
        registry=registry,
        store=store,
        metrics=metrics,
        inspector=Inspector(registry, store, metrics),
    )
    station.workflows = WorkflowManager(station)
    return station
