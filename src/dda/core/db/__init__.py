"""Database helpers the station and the portal share: engines, sessions, Alembic migrations.

Each plane owns its metadata and its migration folder; see :mod:`dda.core.db.migrations`.
"""

from __future__ import annotations

from dda.core.db.engine import (
    DEFAULT_BUSY_TIMEOUT_MS,
    SqliteBegin,
    check_database,
    is_sqlite,
    make_engine,
    normalize_url,
    redact_url,
    session_factory,
    session_scope,
)
from dda.core.db.migrations import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    resolve_script_location,
    run_migrations,
    upgrade,
)

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_MS",
    "SqliteBegin",
    "alembic_config",
    "check_database",
    "current_revision",
    "downgrade",
    "head_revision",
    "is_sqlite",
    "make_engine",
    "normalize_url",
    "redact_url",
    "resolve_script_location",
    "run_migrations",
    "session_factory",
    "session_scope",
    "upgrade",
]
