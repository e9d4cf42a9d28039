"""Alembic environment of the sample migrations: the whole file a plane needs."""

from dda.core.db import run_migrations
from tests.core.sample_migrations.models import metadata

run_migrations(metadata)
