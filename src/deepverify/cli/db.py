"""``deepverify db``: database migrations (also applied on start-up of serve and worker)."""

from __future__ import annotations

from typing import Annotated

import typer

from deepverify.cli.common import console, setup_logging, user_errors
from deepverify.cli.options import VerboseOption

app = typer.Typer(help="Manage the service database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    verbose: VerboseOption = False,
) -> None:
    """Apply migrations to DEEPVERIFY_DATABASE_URL (default: SQLite under DEEPVERIFY_HOME)."""
    from deepverify.service.core.db import (
        current_revision,
        database_from_settings,
        upgrade_database,
    )
    from deepverify.service.core.settings import load_settings

    setup_logging(verbose)
    with user_errors():
        settings = load_settings()
        db_engine = database_from_settings(settings)
        try:
            upgrade_database(db_engine, revision)
            now = current_revision(db_engine)
        finally:
            db_engine.dispose()
    console.print(f"database at revision {now}", highlight=False)


@app.command("current")
def current() -> None:
    """Print the revision the database is at."""
    from deepverify.service.core.db import current_revision, database_from_settings
    from deepverify.service.core.settings import load_settings

    with user_errors():
        settings = load_settings()
        db_engine = database_from_settings(settings)
        try:
            now = current_revision(db_engine)
        finally:
            db_engine.dispose()
    console.print(f"database at revision {now or 'none (run `deepverify db upgrade`)'}")
