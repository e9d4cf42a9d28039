"""Engines and sessions for SQLite (default) and PostgreSQL, set up the same way everywhere.

SQLite connections get WAL journaling (readers do not block the writer), ``foreign_keys=ON``
(SQLite ignores foreign keys unless asked) and a busy timeout (a writer waits for the lock instead
of failing at once). PostgreSQL URLs may be written ``postgresql://``; they use psycopg 3.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from dda.core.errors import InvalidInput, Unavailable

SqliteBegin = Literal["legacy", "deferred", "immediate"]

DEFAULT_BUSY_TIMEOUT_MS = 5000
_POSTGRES_ALIASES = {"postgres", "postgresql"}
_URL_HINT = "use e.g. sqlite:////var/lib/dda/station.db or postgresql://user:password@host:5432/dbname"


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL; map plain ``postgresql://`` / ``postgres://`` to the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise InvalidInput(f"{redact_url(url)!r} is not a database URL", hint=_URL_HINT) from exc
    if parsed.drivername in _POSTGRES_ALIASES:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: str | URL) -> bool:
    return normalize_url(url).get_backend_name() == "sqlite"


def redact_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***``, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(//[^:/@]*):[^@]*@", r"\1:***@", str(url))


def make_engine(
    url: str | URL,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    sqlite_foreign_keys: bool = True,
    sqlite_begin: SqliteBegin = "legacy",
    connect_timeout_s: int = 10,
    **engine_kwargs: Any,
) -> Engine:
    """An engine for ``url``; for a SQLite file, its folder is created first.

    ``sqlite_begin`` chooses who starts SQLite transactions: ``"legacy"`` leaves it to Python's
    sqlite3 (BEGIN only before INSERT/UPDATE/DELETE: fewest lock waits, but DDL and SAVEPOINTs are
    not transactional); ``"deferred"``/``"immediate"`` make SQLAlchemy emit ``BEGIN``/``BEGIN
    IMMEDIATE`` for every transaction, so DDL and nested transactions roll back properly
    (migrations use ``"immediate"``). Extra keyword arguments go to :func:`sqlalchemy.create_engine`.
    """
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = dict(engine_kwargs.pop("connect_args", {}))
    if backend == "sqlite":
        _create_sqlite_folder(parsed)
    elif backend == "postgresql":
        connect_args.setdefault("connect_timeout", connect_timeout_s)
        engine_kwargs.setdefault("pool_pre_ping", True)
    try:
        engine = create_engine(parsed, connect_args=connect_args, **engine_kwargs)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise InvalidInput(f"cannot use database URL {redact_url(parsed)}: {exc}", hint=_URL_HINT) from exc
    except ImportError as exc:
        raise Unavailable(
            f"the database driver for {redact_url(parsed)} is not installed ({exc})",
            hint="pip install 'psycopg[binary]' for PostgreSQL",
        ) from exc
    if backend == "sqlite":
        _configure_sqlite(engine, busy_timeout_ms, sqlite_foreign_keys, sqlite_begin)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``. Objects stay usable after commit (no expiry on commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session] | Engine) -> Iterator[Session]:
    """One unit of work: commit when the block succeeds, roll back when it raises, always close."""
    maker = session_factory(factory) if isinstance(factory, Engine) else factory
    session = maker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def check_database(url: str | URL, *, timeout_s: int = 5) -> None:
    """Connect and run ``SELECT 1``; raise :class:`Unavailable` naming the (redacted) URL and a fix."""
    engine = make_engine(url, connect_timeout_s=timeout_s, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise Unavailable(
            f"cannot reach the database {redact_url(url)}: {reason}",
            hint="start the database server or fix the URL (host, port, user, password, database name)",
        ) from exc
    finally:
        engine.dispose()


def _create_sqlite_folder(url: URL) -> None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return  # in-memory, or a sqlite URI whose path the caller manages
    folder = Path(database).expanduser().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Unavailable(
            f"cannot create the folder {folder} for the SQLite database {database}: {exc.strerror or exc}",
            hint="create the folder with write access for this user, or point the URL elsewhere",
        ) from exc


def _configure_sqlite(engine: Engine, busy_timeout_ms: int, foreign_keys: bool, begin: SqliteBegin) -> None:
    in_memory = (engine.url.database or "") in ("", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if begin != "legacy":
            dbapi_connection.isolation_level = None  # SQLAlchemy's begin hook emits BEGIN instead
        cursor = dbapi_connection.cursor()
        try:
            # PRAGMAs run outside any transaction: foreign_keys is ignored inside one.
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
        finally:
            cursor.close()

    if begin != "legacy":
        statement = "BEGIN IMMEDIATE" if begin == "immediate" else "BEGIN"

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql(statement)
