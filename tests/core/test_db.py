"""Engines, sessions and the reachability check, on SQLite files and on the local PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from dda.core.db import (
    check_database,
    make_engine,
    normalize_url,
    redact_url,
    session_factory,
    session_scope,
)
from dda.core.errors import InvalidInput, Unavailable
from tests.core.conftest import free_port

metadata = MetaData()
parents = Table("parents", metadata, Column("id", Integer, primary_key=True), Column("name", String(50)))
children = Table(
    "children",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("parent_id", Integer, ForeignKey("parents.id"), nullable=False),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'nested' / 'folder' / 'test.db'}"
    else:
        yield request.getfixturevalue("postgres_database_url")


def test_sqlite_file_gets_folder_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "station.db"
    engine = make_engine(f"sqlite:///{path}", busy_timeout_ms=1234)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
        assert path.is_file()
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(insert(parents).values(id=1, name="line-1"))
            connection.execute(insert(children).values(id=1, parent_id=1))
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert(children).values(id=2, parent_id=999))
    finally:
        engine.dispose()


def test_plain_postgresql_urls_use_psycopg(postgres_database_url: str) -> None:
    for scheme in ("postgresql://", "postgres://"):
        plain = postgres_database_url.replace("postgresql+psycopg://", scheme)
        assert normalize_url(plain).drivername == "postgresql+psycopg"
        engine = make_engine(plain)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SELECT 1")).scalar() == 1
        finally:
            engine.dispose()


def test_session_scope_commits_or_rolls_back(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        metadata.create_all(engine)
        factory = session_factory(engine)
        with session_scope(factory) as session:
            session.execute(insert(parents).values(id=1, name="kept"))
        with pytest.raises(RuntimeError), session_scope(factory) as session:
            session.execute(insert(parents).values(id=2, name="rolled back"))
            raise RuntimeError("the unit of work failed")
        with session_scope(engine) as session:  # an engine works too
            names = session.execute(select(parents.c.name)).scalars().all()
        assert names == ["kept"]
    finally:
        engine.dispose()


def test_nested_transactions_roll_back_with_explicit_begin(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}", sqlite_begin="deferred")
    try:
        metadata.create_all(engine)
        with session_scope(engine) as session:
            session.execute(insert(parents).values(id=1, name="outer"))
            savepoint = session.begin_nested()
            session.execute(insert(parents).values(id=2, name="inner"))
            savepoint.rollback()
        with engine.connect() as connection:
            assert connection.execute(select(parents.c.name)).scalars().all() == ["outer"]
    finally:
        engine.dispose()


def test_busy_timeout_makes_a_writer_wait_for_the_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    holder = make_engine(url)
    impatient = make_engine(url, busy_timeout_ms=0)
    patient = make_engine(url, busy_timeout_ms=30_000)
    try:
        metadata.create_all(holder)
        lock = holder.raw_connection()
        lock.cursor().execute("BEGIN IMMEDIATE")  # hold the write lock
        with pytest.raises(OperationalError, match="locked"), impatient.begin() as connection:
            connection.execute(insert(parents).values(id=1, name="fails at once"))
        release = threading.Timer(0.3, lock.rollback)
        release.start()
        with patient.begin() as connection:  # waits until the holder lets go, then succeeds
            connection.execute(insert(parents).values(id=2, name="waited"))
        release.join()
        lock.close()
        with patient.connect() as connection:
            assert connection.execute(select(parents.c.name)).scalars().all() == ["waited"]
    finally:
        for engine in (holder, impatient, patient):
            engine.dispose()


def test_check_database_passes_on_reachable_servers(database_url: str) -> None:
    check_database(database_url)


def test_check_database_names_the_redacted_url_and_a_fix() -> None:
    url = f"postgresql://dda:s3cret@127.0.0.1:{free_port()}/dda"  # nothing listens there
    with pytest.raises(Unavailable) as info:
        check_database(url, timeout_s=2)
    assert f"127.0.0.1:{url.split(':')[3].split('/')[0]}" in info.value.message
    assert "s3cret" not in str(info.value)
    assert "***" in info.value.message
    assert info.value.hint


def test_unusable_sqlite_folder_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(Unavailable, match="cannot create the folder"):
        check_database(f"sqlite:///{tmp_path / 'file' / 'sub' / 'db.sqlite'}")


@pytest.mark.parametrize("url", ["not a url", "nosuchdb+driver://x/y", ""])
def test_bad_urls_are_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        make_engine(url)
    assert info.value.hint


def test_redact_url_hides_passwords() -> None:
    assert redact_url("postgresql+psycopg://dda:pw@db:5432/x") == "postgresql+psycopg://dda:***@db:5432/x"
    assert redact_url("sqlite:////var/lib/dda/station.db") == "sqlite:////var/lib/dda/station.db"
    assert "pw" not in redact_url("weird://user:pw@host/x y z")
