"""The in-process worker: a few threads inside the API server that run queued jobs.

Each thread loads its own analyzer (its own inference engine, shared with no other), then loops:
claim the next job from the database (owners in turn), run it, repeat; when there is none it sleeps
until woken by a new upload or the poll interval passes. Because claiming reads the database, jobs
left queued or running by a crash or restart are picked up too (running ones once their heartbeat
is older than the lease).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from deepverify.service.core.settings import Settings
from deepverify.service.jobs.queue import claim_next, new_worker_id
from deepverify.service.jobs.runner import Analyzer, run_claimed

logger = logging.getLogger(__name__)


class InProcessWorker:
    """Bounded-concurrency job runner living in the server process."""

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        settings: Settings,
        analyzer_factory: Callable[[], Analyzer],
        concurrency: int | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.analyzer_factory = analyzer_factory
        self.concurrency = concurrency or settings.worker_concurrency
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._loaded = 0
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def start(self) -> None:
        """Start the worker threads (idempotent)."""
        if self._threads:
            return
        self._stop.clear()
        for i in range(self.concurrency):
            thread = threading.Thread(target=self._run, name=f"deepverify-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the threads to stop and wait up to ``timeout`` s; a running job is left to expire.

        A job still running when the process exits keeps status ``running``; its heartbeat stops,
        and the next worker takes it over once the lease has passed.
        """
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def notify(self) -> None:
        """Wake idle threads: a job was queued."""
        self._wake.set()

    @property
    def alive(self) -> bool:
        """True while every worker thread runs."""
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    @property
    def model_loaded(self) -> bool:
        """True once every thread has loaded its analyzer."""
        with self._lock:
            return self._loaded >= self.concurrency

    def _load(self) -> Analyzer | None:
        try:
            analyzer = self.analyzer_factory()
        except Exception as exc:
            logger.exception("the worker could not load the model")
            self.last_error = f"model not loaded: {exc}"
            return None
        with self._lock:
            self._loaded += 1
        return analyzer

    def _run(self) -> None:
        worker_id = new_worker_id("inproc")
        analyzer = self._load()
        while analyzer is None and not self._stop.wait(max(self.settings.poll_interval_seconds, 5)):
            analyzer = self._load()
        while not self._stop.is_set() and analyzer is not None:
            try:
                video_id = claim_next(
                    self.session_factory, worker_id=worker_id, settings=self.settings
                )
                if video_id is None:
                    if self._wake.wait(self.settings.poll_interval_seconds):
                        self._wake.clear()
                    continue
                run_claimed(
                    self.session_factory,
                    video_id=video_id,
                    worker_id=worker_id,
                    settings=self.settings,
                    analyzer=analyzer,
                )
            except Exception:  # keep serving: a database hiccup must not kill the thread
                logger.exception("worker loop error")
                self._stop.wait(self.settings.poll_interval_seconds)
