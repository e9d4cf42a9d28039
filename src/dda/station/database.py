"""The station database: engine (SQLite WAL, foreign keys, synchronous=FULL) and migrations.

Result rows are the exception: they are inserted through a second engine with synchronous=NORMAL
(no fsync per commit), because the result journal (services/journal.py) already made them durable
before they are written; a checkpoint syncs the WAL before the journal lets go of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from dda.core.db import is_sqlite, make_engine, session_factory, upgrade

MIGRATIONS = "dda.station.migrations"


def open_database(url: str, synchronous: str = "FULL") -> tuple[Engine, sessionmaker[Session]]:
    """Engine and session factory. SQLite commits are fsynced (synchronous=FULL): what a user was
    told is saved must survive a power cut, not only a crash. ``"NORMAL"`` is for writes that a
    durable journal covers (result rows)."""
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
    engine = make_engine(url)
    if is_sqlite(url):

        @event.listens_for(engine, "connect")
        def _sync_mode(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA synchronous = {synchronous}")
            finally:
                cursor.close()

    return engine, session_factory(engine)


def sqlite_files(engine: Engine) -> list[Path]:
    """The files whose sync makes every SQLite commit so far durable (none for other databases)."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return []
    database = Path(engine.url.database)
    return [database, database.with_name(database.name + "-wal")]


def migrate(url: str) -> None:
    upgrade(url, MIGRATIONS)
