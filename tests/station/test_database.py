"""The station database: migrations match the ORM, SQLite runs WAL + foreign keys + full sync."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from dda.core.settings import Settings
from dda.station.database import migrate, open_database
from dda.station.db.models import Base


def test_migrations_create_exactly_the_orm_schema(station_settings: Settings) -> None:
    url = station_settings.station_database_url
    migrate(url)
    migrate(url)  # idempotent
    engine, _ = open_database(url)
    with engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
        assert diff == []
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    engine.dispose()
