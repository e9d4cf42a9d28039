"""The station database: engine (SQLite WAL, foreign keys, synchronous=FULL) and migrations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from dda.core.db import is_sqlite, make_engine, session_factory, upgrade

MIGRATIONS = "dda.station.migrations"


def open_database(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """Engine and session factory. SQLite commits are fsynced (synchronous=FULL): a result is
    acknowledged only after its commit, and that must survive a power cut, not only a crash."""
    engine = make_engine(url)
    if is_sqlite(url):

        @event.listens_for(engine, "connect")
        def _full_sync(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA synchronous = FULL")
            finally:
                cursor.close()

    return engine, session_factory(engine)


def migrate(url: str) -> None:
    upgrade(url, MIGRATIONS)
