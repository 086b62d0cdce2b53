"""Celery workers on a real Redis broker: a job completes, and still completes when its worker
is killed mid-job (late acknowledgement, redelivery, idempotent takeover).

Runs ``deepverify worker`` processes against the database the test's API uses (PostgreSQL when
available, else SQLite), with the tiny model and a short lease so a dead worker is noticed fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from deepverify.model import ModelCard
from deepverify.service.core import storage
from deepverify.service.core.models import PENDING_STATUSES
from deepverify.service.main import create_app
from tests.processes import kill_group, start_group, stop_group
from tests.service.conftest import TEST_SECRET, need_service, sign_up, upload, wait_for, wait_until

pytestmark = pytest.mark.redis  # the one Celery test: it runs by default (in CI, where Redis is)
DEEPVERIFY = Path(sys.executable).with_name("deepverify")


@pytest.fixture
def broker() -> Iterator[tuple[str, str]]:
    """The Redis URL and a queue name of this test's own (removed afterwards)."""
    url = need_service("DEEPVERIFY_TEST_REDIS_URL")
    queue = f"deepverify-test-{uuid.uuid4().hex[:8]}"
    yield url, queue
    client = redis.Redis.from_url(url)
    client.delete(queue, "unacked", "unacked_index")
    client.close()


@pytest.fixture
def database(request, tmp_path) -> str:
    if os.environ.get("DEEPVERIFY_TEST_POSTGRES_URL"):
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'home' / 'deepverify.db'}"


class Workers:
    """Starts and kills ``deepverify worker`` processes with the test's settings."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = self.logs / f"worker{len(self.procs)}.log"
        proc = start_group([str(DEEPVERIFY), "worker", "--verbose"], log=log, env=self.env)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        kill_group(proc)

    def stop_all(self) -> None:
        for proc in self.procs:
            stop_group(proc)


def _claimed(client: TestClient, video_id: str, timeout: float) -> str:
    """Who runs ``video_id``, as soon as a worker has claimed it."""
    seen: list[Any] = []

    def claimed() -> bool:
        seen.append(_row(client, video_id))
        assert seen[-1].status in PENDING_STATUSES, seen[-1].status
        return bool(seen[-1].status == "running")

    assert wait_until(claimed, timeout), f"{video_id} was never claimed"
    return str(seen[-1].claimed_by)


def _row(client: TestClient, video_id: str) -> Any:
    from deepverify.service.core.models import Video

    with client.app.state.session_factory() as session:
        return session.get(Video, video_id)


def test_celery_workers_complete_jobs_even_when_killed(
    broker, database, tmp_path, tiny_checkpoint, real_clip, shared_data
):
    long_clip = shared_data / "real" / "liveportrait_d6.mp4"  # 33.6 s: time to kill mid-job
    redis_url, queue = broker
    home = tmp_path / "home"
    values = {
        "environment": "test",
        "secret_key": TEST_SECRET,
        "home": str(home),
        "database_url": database,
        "broker_url": redis_url,
        "broker_queue": queue,
        "broker_visibility_timeout_seconds": "4",
        "job_lease_seconds": "2",
        "model_path": str(tiny_checkpoint),
        "num_frames": "8",
        "inference_threads": "1",
    }
    env = {**os.environ, **{f"DEEPVERIFY_{k.upper()}": v for k, v in values.items()}}
    from deepverify.service.core.settings import Settings

    settings = Settings(**values)  # type: ignore[arg-type]
    model_id = ModelCard.read(tiny_checkpoint.with_suffix(".json")).model_id
    workers = Workers(env, tmp_path)
    try:
        with TestClient(create_app(settings)) as client:
            headers = sign_up(client, "celery@example.com")
            # 0. Not ready until a worker reports its model loaded; then ready, naming it.
            response = client.get("/api/ready")
            assert response.status_code == 503 and response.json()["model"] is False
            procs = {proc.pid: proc for proc in (workers.start(), workers.start())}
            assert wait_until(lambda: "2 worker" in str(client.get("/api/ready").json()), 120)
            ready = client.get("/api/ready").json()
            assert ready["mode"] == "celery" and ready["ready"] and ready["model"], ready
            assert f"with model {model_id} (onnx)" in ready["detail"]
            # 1. A job goes through the broker to a worker and completes.
            first_id = upload(client, headers, real_clip.read_bytes()).json()["id"]
            video = wait_for(client, headers, first_id, timeout=120)
            assert video["status"] == "done", video["error"]
            assert video["report"]["verdict"] == "INCONCLUSIVE"  # the tiny model is untrained

            # 2. The worker running a job is killed; the other one takes the job over.
            video_id = upload(client, headers, long_clip.read_bytes(), name="long.mp4").json()["id"]
            claimed_by = _claimed(client, video_id, timeout=60)
            victim = int(claimed_by.split("-")[1])  # "celery-<pid>-<token>"
            workers.kill(procs[victim])
            assert (
                client.get(f"/api/videos/{video_id}", headers=headers).json()["status"] == "running"
            )
            video = wait_for(client, headers, video_id, timeout=120)
            assert video["status"] == "done", video["error"]
            assert video["report"]["video"]["filename"] == "long.mp4"
            row = _row(client, video_id)
            assert row.attempts >= 2 and not row.claimed_by.startswith(f"celery-{victim}-")
            # One set of results per video, no half-written leftovers of the killed attempt.
            results = sorted(p.name for p in storage.results_dir(settings).iterdir())
            assert results == sorted([first_id, video_id])
    finally:
        workers.stop_all()
