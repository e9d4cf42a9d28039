"""The portal database: engine, sessions and its own Alembic migrations."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dda.core.db import make_engine, session_factory, upgrade

MIGRATIONS = "dda.portal.migrations"
VERSION_TABLE = "portal_alembic_version"


def open_database(url: str) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(url)
    return engine, session_factory(engine)


def migrate(url: str) -> None:
    """Bring the schema to the newest revision (every branch head: features add their own)."""
    upgrade(url, MIGRATIONS, "heads")
