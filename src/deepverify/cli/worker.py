"""``deepverify worker``: Celery workers taking analysis jobs from the broker."""

from __future__ import annotations

from typing import Annotated

import typer

from deepverify.cli.common import fail, setup_logging, user_errors
from deepverify.cli.options import EngineOption, VerboseOption, engine_name


def worker(
    concurrency: Annotated[int, typer.Option(help="Jobs analysed at once.", min=1)] = 1,
    pool: Annotated[
        str,
        typer.Option(help="Celery pool: auto (solo for 1, else threads), threads, solo, prefork."),
    ] = "auto",
    engine: EngineOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Run Celery workers on DEEPVERIFY_BROKER_URL (e.g. redis://host:6379/0)."""
    from deepverify.cli.serve import check_engine
    from deepverify.service.core.db import database_from_settings, upgrade_database
    from deepverify.service.core.settings import load_settings
    from deepverify.service.jobs.celery_app import run_worker

    setup_logging(verbose)
    if pool not in ("auto", "prefork", "threads", "solo"):
        fail(f"unknown pool {pool!r}; use auto, threads, solo or prefork")
    with user_errors():
        chosen = engine_name(engine)
        settings = load_settings(**({"engine": chosen} if chosen is not None else {}))
        check_engine(settings.engine)
        if not settings.broker_url:
            fail("DEEPVERIFY_BROKER_URL is not set; point it at a Redis server")
        from deepverify.service.jobs.analysis import check_analysis_settings

        check_analysis_settings(settings)
        from deepverify.service.core.objects import open_store

        open_store(settings).check()  # wrong credentials, no bucket, no endpoint: stop here
        from deepverify.service.api.hygiene import sweep_leftovers

        sweep_leftovers(settings)  # what a killed run left half-written in this worker's home
        database = database_from_settings(settings)
        try:
            upgrade_database(database)
        finally:
            database.dispose()
        run_worker(
            settings, concurrency=concurrency, pool=pool, loglevel="INFO" if verbose else "WARNING"
        )
