"""How the API hands jobs to workers: an in-process worker, or Celery workers on a broker.

Either way the database row is written first (status ``queued``) and is the source of truth; the
dispatcher only says "there is work". In Celery mode a sweeper thread re-sends jobs nobody is
working on (the broker was down when they were queued, or their worker died), which is safe
because processing is idempotent (see :mod:`deepverify.service.jobs`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy.orm import Session, sessionmaker

from deepverify.service.jobs import Analyzer, stale_or_waiting
from deepverify.service.settings import Settings
from deepverify.service.worker import InProcessWorker

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

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def enqueue(self, video_id: str) -> None: ...

    def status(self) -> WorkerStatus: ...


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
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    def enqueue(self, video_id: str) -> None:
        self.worker.notify()

    def status(self) -> WorkerStatus:
        return WorkerStatus(
            worker=self.worker.alive,
            model=self.worker.model_loaded,
            detail=self.worker.last_error,
        )


class CeleryDispatcher:
    """Jobs are sent to Celery workers (``deepverify worker``) through the broker."""

    mode: Literal["in-process", "celery"] = "celery"

    def __init__(self, *, session_factory: sessionmaker[Session], settings: Settings) -> None:
        from deepverify.service.celery_app import create_celery

        self.session_factory = session_factory
        self.settings = settings
        self.celery = create_celery(settings)
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._sweeper = threading.Thread(target=self._sweep, name="deepverify-sweeper", daemon=True)
        self._sweeper.start()

    def stop(self) -> None:
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(5)

    def enqueue(self, video_id: str) -> None:
        from deepverify.service.celery_app import send_job

        try:
            send_job(self.celery, video_id)
        except Exception:  # the row stays queued; the sweeper sends it when the broker is back
            logger.warning("could not send job %s to the broker", video_id, exc_info=True)

    def _sweep(self) -> None:
        interval = max(self.settings.job_lease_seconds / 2, 0.5)
        while not self._stop.wait(interval):
            try:
                for video_id in stale_or_waiting(self.session_factory, settings=self.settings):
                    logger.info("re-sending job %s nobody is working on", video_id)
                    self.enqueue(video_id)
            except Exception:
                logger.warning("job sweep failed", exc_info=True)

    def status(self) -> WorkerStatus:
        try:
            replies = self.celery.control.ping(timeout=1.0)
        except Exception as exc:
            return WorkerStatus(worker=False, model=False, detail=f"broker unreachable: {exc}")
        loaded = [reply for reply in replies or [] if reply]
        if not loaded:
            return WorkerStatus(worker=False, model=False, detail="no Celery worker answered")
        # Workers only start consuming (and answer pings) after loading their model.
        return WorkerStatus(worker=True, model=True, detail=f"{len(loaded)} worker(s)")
