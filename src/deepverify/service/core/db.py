"""Database engine, sessions and migrations.

SQLite (WAL, foreign keys on, a busy timeout so the API and the worker threads can share it) by
default; PostgreSQL or any SQLAlchemy URL through ``DEEPVERIFY_DATABASE_URL``. The schema is owned
by the Alembic migrations shipped inside the package; :func:`upgrade_database` applies them and
runs on start-up of the server and the workers, and from ``deepverify db upgrade``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from deepverify.errors import ConfigError
from deepverify.service.core import storage
from deepverify.service.core.settings import PRIVATE_FILE_MODE, Settings

logger = logging.getLogger(__name__)

SERVICE_DIR = Path(__file__).resolve().parents[1]
SQLITE_BUSY_TIMEOUT_MS = 15_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def create_db_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite files get WAL mode and their folder is created."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(f"invalid database URL {url!r}: {exc}") from exc
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
    db_engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(db_engine, "connect", _sqlite_pragmas)
    return db_engine


def create_session_factory(db_engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (handy when returning ORM objects)."""
    return sessionmaker(bind=db_engine, expire_on_commit=False)


def alembic_config(db_engine: Engine | None = None) -> Config:
    """The Alembic configuration of the packaged migrations, bound to ``db_engine`` if given."""
    config = Config(str(SERVICE_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(SERVICE_DIR / "migrations"))
    if db_engine is not None:
        config.attributes["db_engine"] = db_engine
    return config


def upgrade_database(db_engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (idempotent)."""
    logger.info("migrating database %s to %s", db_engine.url.render_as_string(), revision)
    try:
        command.upgrade(alembic_config(db_engine), revision)
    except SQLAlchemyError as exc:
        raise ConfigError(
            f"could not migrate the database: {exc.__class__.__name__}: {exc}"
        ) from exc


def current_revision(db_engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with db_engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def database_from_settings(settings: Settings) -> Engine:
    """Create the engine the settings describe (creating ``home`` first for SQLite)."""
    storage.ensure_dirs(settings)
    if settings.database_url is None:  # password hashes: readable by this user only
        database = settings.sqlite_path
        if not database.exists():
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
        database.chmod(PRIVATE_FILE_MODE)
    return create_db_engine(settings.sqlalchemy_url)


def ping(db_engine: Engine) -> bool:
    """True when the database answers a trivial query."""
    try:
        with db_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True
