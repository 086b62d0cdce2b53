"""Celery workers on a Redis broker, for analysing on more than one machine.

Delivery is at-least-once: tasks are acknowledged late (after they ran) and rejected back to the
queue when the worker process is lost, and the broker redelivers unacknowledged messages after the
visibility timeout when a whole worker dies. Processing is idempotent (the claim in
:mod:`deepverify.service.jobs.runner`), so a second delivery of a finished job or of one still
running elsewhere does nothing, and one of a job whose worker died (stale heartbeat) takes it over.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from deepverify.service.core.db import create_db_engine, create_session_factory
from deepverify.service.core.settings import Settings
from deepverify.service.jobs.queue import new_worker_id
from deepverify.service.jobs.readiness import ReadinessBeacon
from deepverify.service.jobs.runner import process_job

if TYPE_CHECKING:
    from deepverify.service.jobs.analysis import PipelineAnalyzer, ServiceModel

logger = logging.getLogger(__name__)
TASK_NAME = "deepverify.process_video"


class WorkerResources:
    """Database engine, model and analyzers of one worker process.

    One model per process (:class:`~deepverify.service.jobs.analysis.ServiceModel`), shared by
    the pool's threads, each with an analyzer (and face detector) of its own. Built lazily and
    again after a fork, so no connection or model crosses a process boundary.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pid: int | None = None
        self._db_engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None
        self._local = threading.local()
        self._model: ServiceModel | None = None
        self._lock = threading.Lock()

    def session_factory(self) -> sessionmaker[Session]:
        """This process's session factory (a new engine after a fork)."""
        with self._lock:
            if self._factory is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._db_engine = create_db_engine(self.settings.sqlalchemy_url)
                self._factory = create_session_factory(self._db_engine)
                self._local = threading.local()
                self._model = None
            return self._factory

    def analyzer(self) -> PipelineAnalyzer:
        """This thread's analyzer, on the process's model (loaded on first use)."""
        self.session_factory()  # resets the model and the per-thread analyzers after a fork
        analyzer: PipelineAnalyzer | None = getattr(self._local, "analyzer", None)
        if analyzer is None:
            from deepverify.service.jobs.analysis import PipelineAnalyzer, ServiceModel

            with self._lock:
                if self._model is None:
                    self._model = ServiceModel(self.settings)
                shared = self._model
            analyzer = PipelineAnalyzer(self.settings, shared=shared)
            self._local.analyzer = analyzer
        return analyzer


def create_celery(settings: Settings) -> Celery:
    """The Celery app for ``settings.broker_url`` with the analysis task registered."""
    if not settings.broker_url:
        raise ValueError("DEEPVERIFY_BROKER_URL is not set")
    app = Celery("deepverify", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.broker_queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout_seconds},
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    resources = WorkerResources(settings)
    app.conf.deepverify_resources = resources

    def process_video(video_id: str) -> str:
        outcome = process_job(
            resources.session_factory(),
            video_id=video_id,
            worker_id=new_worker_id(f"celery-{os.getpid()}"),
            settings=settings,
            analyzer=resources.analyzer(),
        )
        # BUSY (another live worker has it) needs nothing either: should that worker die, its
        # unacknowledged message is redelivered and the API's sweeper re-sends the job.
        logger.info("job %s: %s", video_id, outcome.value)
        return outcome.value

    app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True)(process_video)
    return app


def send_job(app: Celery, video_id: str) -> None:
    """Queue the analysis of ``video_id``."""
    app.send_task(TASK_NAME, args=[video_id])


def run_worker(
    settings: Settings, *, concurrency: int, pool: str = "auto", loglevel: str = "INFO"
) -> None:
    """Run a Celery worker in this process until it is stopped (blocks).

    ``pool="auto"`` is ``solo`` for one job at a time and ``threads`` (one network per thread)
    otherwise. The model is loaded before consuming starts, so a worker that cannot analyse
    exits with the reason instead of taking jobs. ``prefork`` loads it in each child after the
    fork (torch must not be initialised before forking). Each process that has loaded its model
    reports so in the broker (:mod:`deepverify.service.jobs.readiness`) for ``/api/ready``.
    """
    if pool == "auto":
        pool = "solo" if concurrency == 1 else "threads"
    app = create_celery(settings)
    resources: WorkerResources = app.conf.deepverify_resources
    beacons: list[ReadinessBeacon] = []

    def report_ready() -> None:
        model = resources.analyzer().model  # raises ModelError/DetectorError: the CLI says why
        beacon = ReadinessBeacon(settings, model_id=model.card.model_id, engine=model.name)
        beacon.start()
        beacons.append(beacon)

    def withdraw(**_: Any) -> None:
        while beacons:
            beacons.pop().stop()

    if pool == "prefork":
        worker_process_init.connect(lambda **_: report_ready(), weak=False)
        worker_process_shutdown.connect(withdraw, weak=False)
    else:
        report_ready()
    try:
        app.worker_main(
            [
                "worker",
                f"--concurrency={concurrency}",
                f"--pool={pool}",
                f"--loglevel={loglevel}",
                "--without-gossip",
                "--without-mingle",
                f"--hostname=deepverify-{os.getpid()}@%h",
            ]
        )
    finally:
        withdraw()
