"""Alembic environment: the engine comes from the caller or from the service settings.

``deepverify db upgrade`` and the start-up migration pass their engine in
``config.attributes["db_engine"]``; plain ``alembic -c .../alembic.ini upgrade head`` reads the same
``DEEPVERIFY_*`` settings as the server. Logging is left as the caller configured it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from deepverify.service.core.db import create_db_engine
from deepverify.service.core.models import Base
from deepverify.service.core.settings import load_settings

target_metadata = Base.metadata

# Held for the migration's transaction on PostgreSQL: the API and workers starting together on an
# empty database migrate one after the other instead of racing to create the same tables.
MIGRATION_LOCK_KEY = 0x64657076  # "depv"


def run_migrations_offline() -> None:
    """Emit SQL for the configured URL without connecting."""
    context.configure(
        url=load_settings().sqlalchemy_url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Apply the migrations over a live connection."""
    given = context.config.attributes.get("db_engine")
    db_engine: Engine = (
        given if given is not None else create_db_engine(load_settings().sqlalchemy_url)
    )
    try:
        with db_engine.connect() as connection:
            context.configure(
                connection=connection, target_metadata=target_metadata, render_as_batch=True
            )
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                context.run_migrations()
    finally:
        if given is None:
            db_engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
