"""How the API hands jobs to workers: an in-process worker, or Celery workers on a broker.

Either way the database row is written first (status ``queued``) and is the source of truth; the
dispatcher only says "there is work". In Celery mode a sweeper thread re-sends jobs nobody is
working on: those whose message could not be sent (broker down), all queued ones once at start-up,
and running ones whose worker died (stale heartbeat; at most once per resend interval, so a busy
cluster is not flooded with duplicates). Duplicates are harmless because processing is idempotent
(see :mod:`deepverify.service.jobs.runner`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy.orm import Session, sessionmaker

from deepverify.service.core.settings import Settings
from deepverify.service.jobs.queue import queued_jobs, stale_jobs
from deepverify.service.jobs.runner import Analyzer
from deepverify.service.jobs.worker import InProcessWorker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerStatus:
    """What ``/api/ready`` reports about the workers."""

    worker: bool
    model: bool
    detail: str | None = None


class Dispatcher(Protocol):
    """Starts/stops the job side of the server and is told about new jobs."""

    mode: Literal["in-process", "celery"]

    def start(self) -> None:
        """Start taking jobs (called once the app starts)."""

    def stop(self) -> None:
        """Stop taking jobs (called when the app stops)."""

    def enqueue(self, video_id: str) -> None:
        """Say that ``video_id`` was queued (its row is already written)."""

    def status(self) -> WorkerStatus:
        """Whether a worker runs and has its model loaded, for ``/api/ready``."""


class InProcessDispatcher:
    """Jobs run in this process by :class:`InProcessWorker` threads."""

    mode: Literal["in-process", "celery"] = "in-process"

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        settings: Settings,
        analyzer_factory: Callable[[], Analyzer],
    ) -> None:
        self.worker = InProcessWorker(
            session_factory=session_factory, settings=settings, analyzer_factory=analyzer_factory
        )

    def start(self) -> None:
        """Start the worker threads."""
        self.worker.start()

    def stop(self) -> None:
        """Stop the worker threads (a running job is left to its lease)."""
        self.worker.stop()

    def enqueue(self, video_id: str) -> None:
        """Wake an idle worker thread: the threads claim jobs from the database."""
        self.worker.notify()

    def status(self) -> WorkerStatus:
        """Ready once every worker thread has loaded its model."""
        return WorkerStatus(
            worker=self.worker.alive,
            model=self.worker.model_loaded,
            detail=self.worker.last_error,
        )


class CeleryDispatcher:
    """Jobs are sent to Celery workers (``deepverify worker``) through the broker."""

    mode: Literal["in-process", "celery"] = "celery"

    def __init__(self, *, session_factory: sessionmaker[Session], settings: Settings) -> None:
        from deepverify.service.jobs.celery_app import create_celery
        from deepverify.service.jobs.readiness import broker_client

        self.session_factory = session_factory
        self.settings = settings
        self.celery = create_celery(settings)
        self._broker = broker_client(settings)
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._unsent: set[str] = set()
        self._resent: dict[str, float] = {}
        self._lock = threading.Lock()
        self.resend_interval_s = max(settings.job_lease_seconds * 4, 10.0)

    def start(self) -> None:
        """Start the sweeper, re-sending what is still queued from before a restart."""
        self._stop.clear()
        with self._lock:  # after a restart, anything still queued may have lost its message
            self._unsent.update(queued_jobs(self.session_factory))
        self._sweeper = threading.Thread(target=self._sweep, name="deepverify-sweeper", daemon=True)
        self._sweeper.start()

    def stop(self) -> None:
        """Stop the sweeper."""
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(5)

    def enqueue(self, video_id: str) -> None:
        """Send the job to the broker; when it is away, the sweeper sends it later."""
        from deepverify.service.jobs.celery_app import send_job

        try:
            send_job(self.celery, video_id)
        except Exception:  # the row stays queued; the sweeper sends it when the broker is back
            logger.warning("could not send job %s to the broker", video_id, exc_info=True)
            with self._lock:
                self._unsent.add(video_id)
            return
        with self._lock:
            self._unsent.discard(video_id)

    def _due(self) -> list[str]:
        now = time.monotonic()
        with self._lock:
            due = set(self._unsent)
        for video_id in stale_jobs(self.session_factory, settings=self.settings):
            if now - self._resent.get(video_id, -1e9) >= self.resend_interval_s:
                self._resent[video_id] = now
                due.add(video_id)
        return sorted(due)

    def _sweep(self) -> None:
        interval = max(self.settings.job_lease_seconds / 2, 0.5)
        first = True
        while first or not self._stop.wait(interval):
            first = False
            try:
                for video_id in self._due():
                    logger.info("re-sending job %s nobody is working on", video_id)
                    self.enqueue(video_id)
            except Exception:
                logger.warning("job sweep failed", exc_info=True)

    def status(self) -> WorkerStatus:
        """Ready when a worker process has reported its model loaded (and not expired since)."""
        import redis

        from deepverify.service.jobs.readiness import live_workers

        try:
            ready = live_workers(self._broker, self.settings.broker_queue)
        except redis.RedisError as exc:
            return WorkerStatus(worker=False, model=False, detail=f"broker unreachable: {exc}")
        if not ready:
            return WorkerStatus(
                worker=False, model=False, detail="no Celery worker has reported its model loaded"
            )
        models = ", ".join(sorted({f"{r.model_id} ({r.engine})" for r in ready}))
        return WorkerStatus(
            worker=True, model=True, detail=f"{len(ready)} worker process(es) with model {models}"
        )
