"""Database: the Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from deepverify.service.core.db import current_revision, database_from_settings, upgrade_database
from deepverify.service.core.models import Base


@pytest.mark.postgres
@pytest.mark.empty_database
def test_migrations_match_models_and_are_idempotent(settings):
    engine = database_from_settings(settings)
    try:
        assert current_revision(engine) is None
        upgrade_database(engine)
        upgrade_database(engine)  # a second start-up is a no-op
        assert current_revision(engine) == "0003"
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            tables = set(inspect(conn).get_table_names())
        assert diff == []
        assert {"users", "videos", "alembic_version"} <= tables
    finally:
        engine.dispose()


# Each process imports first, then migrates at the same instant (imports take about a second).
MIGRATE = """
import sys, time
from deepverify.service.core.db import create_db_engine, upgrade_database
engine = create_db_engine(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
upgrade_database(engine)
"""


@pytest.mark.empty_database
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # the lock is PostgreSQL's
def test_processes_starting_together_migrate_one_after_the_other(settings):
    # The API and the workers of a fresh deployment start at once, each migrating on start-up.
    command = [sys.executable, "-c", MIGRATE, settings.sqlalchemy_url, str(time.time() + 5)]
    starts = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    errors = [p.communicate(timeout=120)[1] for p in starts]
    assert [p.returncode for p in starts] == [0, 0, 0], errors  # unlocked: DuplicateTable
    engine = database_from_settings(settings)
    try:
        assert current_revision(engine) == "0003"
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.empty_database
def test_downgrade_then_upgrade(settings):
    engine = database_from_settings(settings)
    try:
        upgrade_database(engine)
        from alembic import command

        from deepverify.service.core.db import alembic_config

        command.downgrade(alembic_config(engine), "base")
        with engine.connect() as conn:
            assert not inspect(conn).has_table("videos")
        upgrade_database(engine)
        with engine.connect() as conn:
            assert inspect(conn).has_table("videos")
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", [None])  # SQLite only
def test_sqlite_uses_wal_and_foreign_keys(make_settings):
    engine = database_from_settings(make_settings())
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
