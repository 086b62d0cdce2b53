"""Database: the Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

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
