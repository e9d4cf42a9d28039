"""The running station: every long-lived part, built once by the app's lifespan (or the CLI)."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dda.core.settings import DEFAULT_SECRET_KEY, Settings
from dda.station.database import migrate, open_database, sqlite_files
from dda.station.netsafe import OutboundAllowList
from dda.station.paths import StationPaths
from dda.station.services.access import Network, SetupGuard, UrlSigner, parse_networks
from dda.station.services.auth import LoginThrottle
from dda.station.services.health_history import HealthHistory
from dda.station.services.journal import ResultJournal
from dda.station.services.journaled import JournaledWrites
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

    secret_key: str = ""
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    trusted_proxies: list[Network] = field(default_factory=list)
    setup_guard: SetupGuard = field(default_factory=SetupGuard)
    signer: UrlSigner = field(default_factory=lambda: UrlSigner(secrets.token_hex(32)))
    history: HealthHistory = field(default_factory=HealthHistory)
    kserve_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    # The one outbound allow-list (model downloads, webhooks), kept by admins in station settings.
    outbound: OutboundAllowList = field(default_factory=OutboundAllowList)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on error."""
        with self.sessions() as session, session.begin():
            yield session


def signing_secret(settings: Settings, paths: StationPaths) -> str:
    """The key that signs login tokens. With the built-in development value configured, each station
    makes its own random key once (kept in ``<station_dir>/.secret_key``, mode 0600): a key everyone
    knows would let anyone forge a login."""
    configured = settings.secret_key.get_secret_value()
    if configured and configured != DEFAULT_SECRET_KEY:
        return configured
    key_file = paths.root / ".secret_key"
    if not key_file.is_file():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return key_file.read_text().strip()


def clean_staging(paths: StationPaths) -> None:
    """Remove what an interrupted install, download or delete left behind (at start, before use)."""
    import shutil

    leftovers = list(paths.downloads.iterdir()) if paths.downloads.is_dir() else []
    if paths.model_repo.is_dir():
        leftovers += [p for p in paths.model_repo.iterdir() if p.name.startswith(".dda-install-")]
        for name_dir in (p for p in paths.model_repo.iterdir() if p.is_dir()):
            leftovers += [p for p in name_dir.iterdir() if p.name.startswith(".deleting-")]
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def build_station(settings: Settings, loader: Loader = default_loader) -> Station:
    """Create folders, migrate the database and wire the parts together (nothing started yet)."""
    from dda.station.imaging import configure_decoding  # imports the source plugins
    from dda.station.services.workflows import WorkflowManager

    paths = StationPaths.from_settings(settings)
    paths.ensure()
    clean_staging(paths)
    configure_decoding(
        settings.station.decode_budget_mb * MB,
        settings.station.max_concurrent_decodes,
        settings.station.upload_memory_mb * MB,
    )
    url = settings.station_database_url
    migrate(url)
    engine, sessions = open_database(url)
    metrics = StationMetrics()
    registry = ModelRegistry(paths.model_repo, loader)
    store = ResultStore(
        paths.results,
        sessions,
        settings.station.storage_quota_mb * MB,
        _journaled(paths, url, engine, sessions),
    )
    secret = signing_secret(settings, paths)
    station = Station(
        secret_key=secret,
        trusted_proxies=parse_networks(settings.station.trusted_proxies, "station.trusted_proxies"),
        signer=UrlSigner(secret),
        kserve_slots=asyncio.Semaphore(settings.station.max_concurrent_decodes),
        settings=settings,
        paths=paths,
        engine=engine,
        sessions=sessions,
        registry=registry,
        store=store,
        metrics=metrics,
        inspector=Inspector(registry, store, metrics),
    )
    station.outbound.set(_stored_outbound_allow(station))
    station.workflows = WorkflowManager(station)
    return station


def _journaled(
    paths: StationPaths, url: str, engine: Engine, sessions: sessionmaker[Session]
) -> JournaledWrites:
    """Result rows go through the journal: on SQLite they are committed without an fsync each
    (synchronous=NORMAL, a second engine); the checkpoint syncs the database files instead."""
    files = sqlite_files(engine)
    fast = open_database(url, synchronous="NORMAL")[1] if files else sessions
    return JournaledWrites(paths.results, ResultJournal(paths.root / "journal"), sessions, fast, files)


def _stored_outbound_allow(station: Station) -> list[str]:
    from dda.station.repositories import settings as settings_repo

    with station.session() as session:
        return list(settings_repo.get(session, settings_repo.OUTBOUND_ALLOW, []))
