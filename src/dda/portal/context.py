"""The running portal: every long-lived part, built once by the app's lifespan (or the CLI)."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dda.core.settings import DEFAULT_SECRET_KEY, Settings
from dda.core.storage import ObjectStore, open_store
from dda.portal.database import migrate, open_database
from dda.portal.services.throttle import Throttle, make_throttle


@dataclass
class Portal:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ObjectStore  # the default store; use cases keep their objects under their own prefix
    secret_key: str  # signs access tokens
    throttle: Throttle

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def derived_key(self, purpose: str) -> bytes:
        """A separate 32-byte key per purpose (credential encryption, URL signing, audit checkpoints),
        so that one leaked derived key reveals nothing about the others."""
        return hashlib.sha256(f"dda-portal:{purpose}:".encode() + self.secret_key.encode()).digest()

    def close(self) -> None:
        self.throttle.close()
        self.engine.dispose()


def portal_secret(settings: Settings) -> str:
    """The signing key. With the built-in development value configured, the portal makes its own
    random key once (``<portal_dir>/.secret_key``, mode 0600): a key everyone knows would let anyone
    forge a login. Several API processes need the same key: set DDA_SECRET_KEY for them."""
    configured = settings.secret_key.get_secret_value()
    if configured and configured != DEFAULT_SECRET_KEY:
        return configured
    settings.portal_dir.mkdir(parents=True, exist_ok=True)
    key_file = settings.portal_dir / ".secret_key"
    if not key_file.is_file():
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return key_file.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return key_file.read_text().strip()


def build_portal(settings: Settings, *, run_migrations: bool = True) -> Portal:
    url = settings.portal_database_url
    if run_migrations:
        migrate(url)
    engine, sessions = open_database(url)
    store = open_store(settings.portal_object_store_url, settings, create=True)
    return Portal(
        settings=settings,
        engine=engine,
        sessions=sessions,
        store=store,
        secret_key=portal_secret(settings),
        throttle=make_throttle(settings.portal.redis_url, settings.portal.redis_key_prefix),
    )
