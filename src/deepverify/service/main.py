"""The FastAPI application factory.

``create_app(settings)`` wires settings, database, job dispatcher and routers together; start-up
(the lifespan) applies the migrations and starts the workers. The analysis is injectable
(``analyzer_factory``) so the job machinery can be exercised without a model.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware

from deepverify import __version__
from deepverify.service.api.deps import Throttles
from deepverify.service.api.docs import add_docs
from deepverify.service.api.headers import SecurityHeaders
from deepverify.service.api.hygiene import (
    BodyLimit,
    storage_unavailable,
    sweep_leftovers,
    sweep_orphans_periodically,
    validation_error,
)
from deepverify.service.api.routes import auth, health, live, videos, web
from deepverify.service.core.db import (
    create_session_factory,
    database_from_settings,
    upgrade_database,
)
from deepverify.service.core.keys import with_secret_key
from deepverify.service.core.objects import StorageUnavailableError
from deepverify.service.core.oidc import OIDCVerifier
from deepverify.service.core.settings import Settings, load_settings
from deepverify.service.jobs.analysis import PipelineAnalyzer, ServiceModel
from deepverify.service.jobs.dispatch import (
    CeleryDispatcher,
    Dispatcher,
    InProcessDispatcher,
)
from deepverify.service.jobs.runner import Analyzer
from deepverify.service.services.live import (
    LiveSessions,
    limits_from,
    pipeline_feed_runner,
    pipeline_runner,
)

logger = logging.getLogger(__name__)


def _pipeline_factory(shared: ServiceModel) -> Callable[[], Analyzer]:
    def build() -> Analyzer:
        return PipelineAnalyzer(shared.settings, shared=shared)

    return build


def create_app(
    settings: Settings | None = None,
    *,
    analyzer_factory: Callable[[], Analyzer] | None = None,
) -> FastAPI:
    """Build the API (and web UI) application.

    Args:
        settings: The configuration; read from the environment when omitted.
        analyzer_factory: Builds one analyzer per in-process worker thread; defaults to the
            pipeline with the configured model. Ignored in Celery mode (the workers analyse).
    """
    settings = with_secret_key(settings or load_settings())
    shared = ServiceModel(settings)  # loaded on first use; file jobs and live sessions share it
    db_engine = database_from_settings(settings)
    session_factory = create_session_factory(db_engine)
    dispatcher: Dispatcher
    if settings.uses_celery:
        dispatcher = CeleryDispatcher(session_factory=session_factory, settings=settings)
    else:
        dispatcher = InProcessDispatcher(
            session_factory=session_factory,
            settings=settings,
            analyzer_factory=analyzer_factory or _pipeline_factory(shared),
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(upgrade_database, db_engine)
        await run_in_threadpool(sweep_leftovers, settings)
        # Listing a large bucket takes a while: the service starts meanwhile.
        stop_sweeping = asyncio.Event()
        orphans = asyncio.create_task(
            sweep_orphans_periodically(session_factory, settings, stop_sweeping)
        )
        dispatcher.start()
        logger.info("deepverify service ready (%s worker)", dispatcher.mode)
        try:
            yield
        finally:
            await run_in_threadpool(app.state.live.stop_all)  # waits for the sessions' threads
            dispatcher.stop()
            stop_sweeping.set()
            await orphans  # a sweep in progress uses the database
            db_engine.dispose()

    app = FastAPI(
        title="deepverify",
        version=__version__,
        summary="Deepfake video verification: upload a video, get a calibrated, explained verdict.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db_engine = db_engine
    app.state.session_factory = session_factory
    app.state.dispatcher = dispatcher
    app.state.oidc = OIDCVerifier(settings) if settings.oidc_issuer else None
    app.state.throttles = Throttles.from_settings(settings)
    app.state.live = LiveSessions(
        limits_from(settings), pipeline_runner(shared), pipeline_feed_runner(shared)
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
        )
    for router in (auth.router, videos.router, live.router, health.router):
        app.include_router(router, prefix="/api")
    upload_path = app.url_path_for(videos.upload_video.__name__)
    app.add_middleware(BodyLimit, max_bytes=settings.max_json_bytes, upload_path=upload_path)
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StorageUnavailableError, storage_unavailable)
    if settings.api_docs:
        add_docs(app)
    app.include_router(web.router)  # last: its catch-all must not shadow the API
    return app
