"""Alembic wiring without alembic.ini files: each plane keeps a migration folder in its package.

A migration folder holds ``env.py``, ``script.py.mako`` and ``versions/``. Its ``env.py`` is three
lines::

    from dda.core.db import run_migrations
    from dda.station.models import Base

    run_migrations(Base.metadata)

and the plane migrates with ``upgrade(url, "dda.station.migrations")`` (a dotted package name or a
folder path). On SQLite all pending revisions run in one ``BEGIN IMMEDIATE`` transaction with
foreign keys off (batch mode recreates tables), and foreign keys are checked before commit.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from dda.core.db.engine import make_engine, normalize_url, redact_url
from dda.core.errors import Conflict, InvalidInput, Unavailable

# Alembic announces each of its built-in plugins at INFO when imported: noise in every log.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

ScriptLocation = str | os.PathLike[str]
_URL_ATTRIBUTE = "dda_database_url"


def resolve_script_location(script_location: ScriptLocation) -> Path:
    """A migration folder given as a path or as a dotted package name (``dda.station.migrations``)."""
    candidate = Path(script_location)
    if not candidate.is_dir() and isinstance(script_location, str) and "/" not in script_location:
        try:
            spec = importlib.util.find_spec(script_location)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            candidate = Path(next(iter(spec.submodule_search_locations)))
    if not (candidate / "env.py").is_file():
        raise InvalidInput(
            f"{script_location} is not a migration folder (no env.py in {candidate})",
            hint="pass a folder (or package name) holding env.py, script.py.mako and versions/",
        )
    return candidate


def alembic_config(url: str | URL, script_location: ScriptLocation) -> Config:
    """An Alembic ``Config`` for ``url`` and a migration folder, built in memory (no alembic.ini)."""
    folder = resolve_script_location(script_location)
    rendered = normalize_url(url).render_as_string(hide_password=False)
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))  # configparser interpolation
    config.attributes[_URL_ATTRIBUTE] = rendered
    return config


def upgrade(url: str | URL, script_location: ScriptLocation, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (default: the newest)."""
    with _alembic_errors(url, script_location):
        command.upgrade(alembic_config(url, script_location), revision)


def downgrade(url: str | URL, script_location: ScriptLocation, revision: str) -> None:
    """Revert migrations down to ``revision`` (``"base"`` removes them all)."""
    with _alembic_errors(url, script_location):
        command.downgrade(alembic_config(url, script_location), revision)


def current_revision(url: str | URL, script_location: ScriptLocation) -> str | None:
    """The revision the database is at (None: never migrated). Runs env.py, so its settings apply."""
    config = alembic_config(url, script_location)
    script = ScriptDirectory.from_config(config)
    heads: list[str] = []

    def collect(_revision: Any, context: Any) -> list[Any]:
        heads.extend(context.get_current_heads())
        return []

    with (
        _alembic_errors(url, script_location),
        EnvironmentContext(config, script, fn=collect, dont_mutate=True),
    ):
        script.run_env()
    if len(heads) > 1:
        raise Conflict(
            f"the database {redact_url(url)} is at several revisions at once: {', '.join(sorted(heads))}",
            hint="merge the branches with `alembic merge` in the migration folder",
        )
    return heads[0] if heads else None


def head_revision(script_location: ScriptLocation) -> str | None:
    """The newest revision in a migration folder (None when it has no revisions)."""
    script = ScriptDirectory(str(resolve_script_location(script_location)))
    heads = script.get_heads()
    if len(heads) > 1:
        raise Conflict(
            f"the migration folder {script_location} has several heads: {', '.join(sorted(heads))}",
            hint="merge them with `alembic merge`",
        )
    return heads[0] if heads else None


def run_migrations(
    target_metadata: MetaData | Sequence[MetaData] | None, *, version_table: str = "alembic_version"
) -> None:
    """The body of every plane's ``env.py``: run the migrations Alembic asked for, online or offline."""
    from alembic import context

    config = context.config
    url = config.attributes.get(_URL_ATTRIBUTE) or config.get_main_option("sqlalchemy.url")
    if not url:
        raise InvalidInput(
            "no database URL for the migrations", hint="use dda.core.db.alembic_config(url, ...)"
        )
    sqlite = normalize_url(url).get_backend_name() == "sqlite"
    options: dict[str, Any] = {
        "target_metadata": target_metadata,
        "version_table": version_table,
        "render_as_batch": sqlite,  # SQLite cannot ALTER most things; batch mode recreates the table
        "compare_type": True,
    }
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    # Foreign keys off while batch mode copies and drops tables; checked again before commit.
    engine = make_engine(url, poolclass=NullPool, sqlite_foreign_keys=not sqlite, sqlite_begin="immediate")
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, transactional_ddl=True, **options)
            with context.begin_transaction():
                _serialize_migrators(connection, version_table)
                context.run_migrations()
                if sqlite:
                    _check_foreign_keys(connection)
    finally:
        engine.dispose()


def _serialize_migrators(connection: Connection, version_table: str) -> None:
    """Two processes upgrading PostgreSQL at once would both apply the same revision; one waits."""
    if connection.dialect.name == "postgresql":
        key = zlib.crc32(f"dda-migrations:{version_table}".encode())
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _check_foreign_keys(connection: Connection) -> None:
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if violations:
        tables = sorted({str(row[0]) for row in violations})
        raise Conflict(
            f"the migration would leave {len(violations)} rows with broken foreign keys "
            f"in {', '.join(tables)}; nothing was changed",
            hint="fix the migration so that it moves or deletes the rows that reference removed rows",
        )


@contextmanager
def _alembic_errors(url: str | URL, script_location: ScriptLocation) -> Iterator[None]:
    try:
        yield
    except CommandError as exc:
        raise InvalidInput(
            f"migration failed for {redact_url(url)} with {script_location}: {exc}",
            hint="check the revision name; `alembic history` in the migration folder lists them",
        ) from exc
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise Unavailable(
            f"cannot migrate the database {redact_url(url)}: {reason}",
            hint="start the database server or fix the URL; for SQLite, close programs holding a lock",
        ) from exc
