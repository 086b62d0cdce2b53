"""Celery workers report in the broker that their model is loaded; ``/api/ready`` reads it.

A worker process writes one record once its analyzer has loaded (the model card's id, the engine,
the process) under a key that expires after the job lease, and a thread rewrites it every quarter
lease while the process lives, as a job's heartbeat does. The API counts the records that have
not expired: a worker that died, or one that never loaded its model, has none. Unlike a Celery
ping, the record is refreshed while a job runs, so a busy ``solo`` worker still counts, and a
``prefork`` parent whose children could not load their model does not.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from dataclasses import asdict, dataclass

import redis

from deepverify.service.core.settings import Settings

logger = logging.getLogger(__name__)
KEY_PREFIX = "deepverify:ready"


@dataclass(frozen=True)
class WorkerReady:
    """What one worker process reports once its model is loaded."""

    worker: str
    model_id: str
    engine: str


def _key(queue: str, worker: str) -> str:
    return f"{KEY_PREFIX}:{queue}:{worker}"


def _lease_ms(settings: Settings) -> int:
    return max(int(settings.job_lease_seconds * 1000), 1)


def broker_client(settings: Settings) -> redis.Redis:
    """A Redis client on the broker (short timeouts: readiness must answer fast)."""
    if not settings.broker_url:
        raise ValueError("DEEPVERIFY_BROKER_URL is not set")
    return redis.Redis.from_url(settings.broker_url, socket_timeout=2.0, socket_connect_timeout=2.0)


def live_workers(client: redis.Redis, queue: str) -> list[WorkerReady]:
    """The worker processes on ``queue`` whose record has not expired, by name.

    Raises:
        redis.RedisError: the broker cannot be reached.
    """
    keys = sorted(client.scan_iter(match=f"{KEY_PREFIX}:{queue}:*", count=100))
    found = []
    for raw in client.mget(keys) if keys else []:
        if raw is None:  # expired between the scan and the read
            continue
        try:
            found.append(WorkerReady(**json.loads(raw)))
        except (TypeError, ValueError):
            logger.warning("ignoring a malformed readiness record: %r", raw[:200])
    return found


class ReadinessBeacon:
    """Keeps this process's :class:`WorkerReady` record alive in the broker until stopped."""

    def __init__(self, settings: Settings, *, model_id: str, engine: str) -> None:
        worker = f"{socket.gethostname()}-{os.getpid()}"
        self.record = WorkerReady(worker=worker, model_id=model_id or "(unnamed)", engine=engine)
        self.queue = settings.broker_queue
        self.lease_ms = _lease_ms(settings)
        self.client = broker_client(settings)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def key(self) -> str:
        """The broker key of this process's record."""
        return _key(self.queue, self.record.worker)

    def beat(self) -> None:
        """Write the record with a fresh expiry (raises :class:`redis.RedisError`)."""
        self.client.set(self.key, json.dumps(asdict(self.record)), px=self.lease_ms)

    def start(self) -> None:
        """Report now, then keep reporting from a daemon thread."""
        self.beat()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="deepverify-ready", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop reporting and withdraw the record (a killed process's record just expires)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self.client.delete(self.key)
        except redis.RedisError:
            logger.warning("could not withdraw the readiness record %s", self.key, exc_info=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.lease_ms / 4000):
            try:
                self.beat()
            except redis.RedisError:  # the broker is away: the record expires, which is true
                logger.warning("could not report readiness to the broker", exc_info=True)
