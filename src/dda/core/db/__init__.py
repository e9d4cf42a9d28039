"""Database helpers the station and the portal share: engines, sessions, Alembic migrations.

Each plane owns its metadata and its migration folder; see :mod:`dda.core.db.migrations`.
The migration helpers are imported on first use, so ``check_database`` does not load Alembic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from dda.core.db.migrations import (
        alembic_config,
        current_revision,
        downgrade,
        head_revision,
        resolve_script_location,
        run_migrations,
        upgrade,
    )

_MIGRATION_NAMES = {
    "alembic_config",
    "current_revision",
    "downgrade",
    "head_revision",
    "resolve_script_location",
    "run_migrations",
    "upgrade",
}

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


def __getattr__(name: str) -> Any:
    if name in _MIGRATION_NAMES:
        return getattr(importlib.import_module("dda.core.db.migrations"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
