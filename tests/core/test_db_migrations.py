"""Alembic wiring: the sample migrations applied, checked and reverted on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from dda.core.db import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    resolve_script_location,
    upgrade,
)
from dda.core.errors import Conflict, InvalidInput, Unavailable
from tests.core.conftest import free_port
from tests.core.sample_migrations.models import inspections, lines

SAMPLE = Path(__file__).parent / "sample_migrations"

FK_BREAKING_REVISION = '''"""Delete every line but leave their inspections behind (a broken migration)."""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("audit", __import__("sqlalchemy").Column("id", __import__("sqlalchemy").Integer))
    op.execute("DELETE FROM lines")


def downgrade() -> None:
    pass
'''


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'plane.db'}"
    else:
        yield request.getfixturevalue("postgres_database_url")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _columns(engine: Engine, table: str) -> dict[str, object]:
    return {column["name"]: column["type"] for column in inspect(engine).get_columns(table)}


def test_upgrade_check_and_downgrade(database_url: str, engine: Engine) -> None:
    assert current_revision(database_url, SAMPLE) is None
    upgrade(database_url, SAMPLE)
    assert current_revision(database_url, SAMPLE) == head_revision(SAMPLE) == "0002"
    assert _tables(engine) == {"alembic_version", "lines", "inspections"}
    columns = _columns(engine, "inspections")
    assert set(columns) == {"id", "line_id", "image_key", "score", "camera"}
    assert getattr(columns["image_key"], "length", None) == 1024
    assert [ix["name"] for ix in inspect(engine).get_indexes("inspections")] == ["ix_inspections_camera"]
    assert inspect(engine).get_foreign_keys("inspections")[0]["referred_table"] == "lines"

    downgrade(database_url, SAMPLE, "0001")
    assert current_revision(database_url, SAMPLE) == "0001"
    assert "camera" not in _columns(engine, "inspections")
    assert getattr(_columns(engine, "inspections")["image_key"], "length", None) == 255

    downgrade(database_url, SAMPLE, "base")
    assert current_revision(database_url, SAMPLE) is None
    assert _tables(engine) == {"alembic_version"}


def test_rows_and_foreign_keys_survive_the_table_rebuild(database_url: str, engine: Engine) -> None:
    upgrade(database_url, SAMPLE, "0001")
    with engine.begin() as connection:
        connection.execute(insert(lines).values(id=1, name="line-1"))
        # Only the columns revision 0001 has: `camera` is left to the server default of 0002.
        connection.execute(insert(inspections).values(id=7, line_id=1, image_key="a.jpg", score=0.9))
    upgrade(database_url, SAMPLE)  # on SQLite: batch mode copies inspections into a new table
    with engine.begin() as connection:
        row = connection.execute(select(inspections)).one()
        assert (row.id, row.line_id, row.image_key, row.camera) == (7, 1, "a.jpg", "default")
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(insert(inspections).values(line_id=999, image_key="b.jpg", score=0.1))
        connection.execute(delete(lines).where(lines.c.id == 1))  # ON DELETE CASCADE needs FKs on
        assert connection.execute(select(inspections)).all() == []


def test_sqlite_database_is_in_wal_mode_after_migrating(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    upgrade(url, SAMPLE)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_a_migration_that_breaks_foreign_keys_is_rolled_back_on_sqlite(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / "0003_break_foreign_keys.py").write_text(FK_BREAKING_REVISION)
    url = f"sqlite:///{tmp_path / 'fk.db'}"
    upgrade(url, folder, "0002")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(insert(lines).values(id=1, name="line-1"))
            connection.execute(insert(inspections).values(line_id=1, image_key="a.jpg", score=0.5))
        with pytest.raises(Conflict, match="broken foreign keys in inspections"):
            upgrade(url, folder)
        assert current_revision(url, folder) == "0002"
        assert "audit" not in _tables(engine), "the DDL of the failed migration is rolled back too"
        with engine.connect() as connection:
            assert connection.execute(select(lines.c.name)).scalars().all() == ["line-1"]
    finally:
        engine.dispose()


def test_script_location_may_be_a_package_name(tmp_path: Path) -> None:
    assert resolve_script_location("tests.core.sample_migrations") == SAMPLE
    url = f"sqlite:///{tmp_path / 'pkg.db'}"
    upgrade(url, "tests.core.sample_migrations")
    assert current_revision(url, "tests.core.sample_migrations") == "0002"


def test_config_keeps_percent_signs_in_passwords(tmp_path: Path) -> None:
    config = alembic_config("postgresql://u:p%25w@h/db", SAMPLE)
    assert config.get_main_option("sqlalchemy.url") == "postgresql+psycopg://u:p%25w@h/db"
    assert config.get_main_option("script_location") == str(SAMPLE)


def test_bad_inputs_are_refused_with_a_fix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(InvalidInput, match="not a migration folder"):
        upgrade(url, tmp_path)
    with pytest.raises(InvalidInput, match="not a migration folder"):
        upgrade(url, "no.such.package")
    with pytest.raises(InvalidInput, match="migration failed") as info:
        upgrade(url, SAMPLE, "9999")
    assert info.value.hint


def test_unreachable_server_is_unavailable() -> None:
    url = f"postgresql://postgres:pw@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(Unavailable) as info:
        upgrade(url, SAMPLE)
    assert "***" in info.value.message and "pw@" not in info.value.message
