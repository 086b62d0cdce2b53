"""Celery readiness on a real Redis: ready only while a worker process reports its model loaded.

The worker processes themselves are run by ``test_celery.py``; here a beacon in this process
stands in for one, so its record can be planted, let expire and withdrawn exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from deepverify.service.core.settings import Settings
from deepverify.service.jobs.dispatch import CeleryDispatcher
from deepverify.service.jobs.readiness import KEY_PREFIX, ReadinessBeacon, live_workers
from tests.service.conftest import TEST_SECRET, need_service, wait_until

pytestmark = pytest.mark.redis


@pytest.fixture
def settings(tmp_path) -> Iterator[Settings]:
    """Settings on the test Redis with a queue of this test's own and a short lease."""
    queue = f"deepverify-test-{uuid.uuid4().hex[:8]}"
    yield Settings(
        environment="test",
        secret_key=TEST_SECRET,
        home=tmp_path / "home",
        broker_url=need_service("DEEPVERIFY_TEST_REDIS_URL"),
        broker_queue=queue,
        job_lease_seconds=0.5,
    )


def _dispatcher(settings: Settings) -> CeleryDispatcher:
    return CeleryDispatcher(session_factory=None, settings=settings)  # status() reads no rows


def test_ready_while_a_worker_reports_its_model_and_not_once_it_stops(settings):
    dispatcher = _dispatcher(settings)
    client = redis.Redis.from_url(settings.broker_url)
    status = dispatcher.status()
    assert (status.worker, status.model) == (False, False)
    assert "no Celery worker has reported its model loaded" in (status.detail or "")

    beacon = ReadinessBeacon(settings, model_id="efficientnet_lite0-0123abcd4567", engine="onnx")
    beacon.start()
    try:
        assert [w.model_id for w in live_workers(client, settings.broker_queue)] == [
            "efficientnet_lite0-0123abcd4567"
        ]
        status = dispatcher.status()
        assert (status.worker, status.model) == (True, True)
        model = "efficientnet_lite0-0123abcd4567 (onnx)"
        assert status.detail == f"1 worker process(es) with model {model}"
        # Refreshed while the process lives: its expiry moves forward (some read sees a longer
        # time to live than the read before it; comparing with the first read alone fails when
        # that read came just after a refresh).
        ttls = [client.pttl(beacon.key)]
        assert wait_until(lambda: ttls.append(client.pttl(beacon.key)) or ttls[-1] > ttls[-2], 5)
        # Another queue's workers do not count for this one.
        assert live_workers(client, "some-other-queue") == []
    finally:
        beacon.stop()
    assert client.exists(beacon.key) == 0
    assert dispatcher.status().model is False


def test_a_killed_workers_record_expires_with_the_lease(settings):
    dispatcher = _dispatcher(settings)
    beacon = ReadinessBeacon(settings, model_id="", engine="torch")
    beacon.beat()  # reported once, then the process died: nobody refreshes or withdraws it
    try:
        assert dispatcher.status().model is True
        assert live_workers(beacon.client, settings.broker_queue)[0].model_id == "(unnamed)"
        assert wait_until(lambda: not dispatcher.status().model, timeout=10)
    finally:
        beacon.client.delete(beacon.key)


def test_malformed_records_are_ignored(settings):
    client = redis.Redis.from_url(settings.broker_url)
    key = f"{KEY_PREFIX}:{settings.broker_queue}:junk"
    client.set(key, b"not json", px=5000)
    try:
        assert live_workers(client, settings.broker_queue) == []
        assert _dispatcher(settings).status().model is False
    finally:
        client.delete(key)


def test_an_unreachable_broker_is_not_ready(settings):
    dead = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    status = _dispatcher(dead).status()
    assert (status.worker, status.model) == (False, False)
    assert (status.detail or "").startswith("broker unreachable")
