"""``deepverify serve``: the whole product on one machine (API, web UI, in-process worker)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deepverify.cli.common import console, fail, setup_logging, user_errors
from deepverify.cli.options import EngineOption, ModelOption, VerboseOption, engine_name


def _check_model(path: Path | None) -> None:
    from deepverify.model.files import require_default_model

    if path is None:
        require_default_model()
    elif not path.is_file():
        fail(f"model checkpoint {path} not found; check --model / DEEPVERIFY_MODEL_PATH")


def check_engine(name: str) -> None:
    """Fail with one line now if the engine cannot run here (torch without the train extra)."""
    if name == "torch":
        from deepverify.extras import require_torch

        require_torch("--engine torch")


def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Interface (env DEEPVERIFY_HOST, default 127.0.0.1)"),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (env DEEPVERIFY_PORT, default 8000)")
    ] = None,
    model: ModelOption = None,
    engine: EngineOption = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Concurrent analyses (env DEEPVERIFY_WORKER_CONCURRENCY, default 1)", min=1
        ),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Serve the API and web UI; data lives under DEEPVERIFY_HOME (default ~/.deepverify)."""
    import uvicorn

    from deepverify.service.core.settings import load_settings
    from deepverify.service.main import create_app
    from deepverify.service.server import server_config

    setup_logging(verbose)
    overrides: dict[str, object] = {
        key: value
        for key, value in {
            "host": host,
            "port": port,
            "model_path": model,
            "engine": engine_name(engine),
            "worker_concurrency": workers,
        }.items()
        if value is not None
    }
    with user_errors():
        settings = load_settings(**overrides)
        if not settings.uses_celery:  # the in-process worker needs a model: say so now
            from deepverify.service.jobs.analysis import check_analysis_settings

            check_analysis_settings(settings)
            _check_model(settings.model_path)
            check_engine(settings.engine)
        from deepverify.service.core.objects import open_store

        open_store(settings).check()  # wrong credentials, no bucket, no endpoint: stop here
        app = create_app(settings)
    mode = "Celery workers" if settings.uses_celery else "in-process worker"
    console.print(
        f"deepverify on [bold]http://{settings.host}:{settings.port}[/] "
        f"(data in {settings.home}, {mode}); Ctrl-C stops it",
        highlight=False,
    )
    uvicorn.Server(server_config(app, settings, log_level="info" if verbose else "warning")).run()
