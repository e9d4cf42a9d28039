"""Alembic migrations of the station database (see dda.core.db.migrations)."""
