"""The job machinery on its own: claims, heartbeats, idempotency, fencing, the in-process worker."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from deepverify.service.core import storage
from deepverify.service.core.db import (
    create_session_factory,
    database_from_settings,
    upgrade_database,
)
from deepverify.service.core.models import JobStatus, User, Video, utcnow
from deepverify.service.jobs.queue import Outcome, claim_job, stale_jobs
from deepverify.service.jobs.runner import process_job, run_claimed
from deepverify.service.jobs.worker import InProcessWorker
from deepverify.stages import STAGES
from tests.service.conftest import wait_until

pytestmark = pytest.mark.postgres  # claims, heartbeats and fencing are what the database decides


@pytest.fixture
def factory(settings):
    engine = database_from_settings(settings)
    upgrade_database(engine)
    yield create_session_factory(engine)
    engine.dispose()


def _video(factory, settings, **values) -> str:
    with factory() as session:
        user = User(email=f"{time.monotonic_ns()}@example.com", hashed_password="x")
        session.add(user)
        session.flush()
        video = Video(
            owner_id=user.id,
            filename="clip.mp4",
            size_bytes=4,
            sha256="0" * 64,
            storage_name=f"stored{time.monotonic_ns()}",
            media={},
            progress={},
            **values,
        )
        session.add(video)
        session.commit()
        (storage.uploads_dir(settings) / video.storage_name).write_bytes(b"data")
        return video.id


def _row(factory, video_id) -> Video:
    with factory() as session:
        return session.get(Video, video_id)


def test_a_job_runs_once_and_records_its_report(factory, settings, fake_analyzer):
    video_id = _video(factory, settings)
    assert (
        process_job(
            factory, video_id=video_id, worker_id="w1", settings=settings, analyzer=fake_analyzer
        )
        is Outcome.DONE
    )
    row = _row(factory, video_id)
    assert row.status == "done" and row.verdict == "REAL" and row.probability == 0.25
    assert row.progress == dict.fromkeys(STAGES, 1.0)
    assert row.attempts == 1 and row.finished_at is not None
    assert (
        storage.result_dir(settings, video_id) / "report.html"
    ).read_text() == "<html><p>clip.mp4</p></html>"
    # Delivered again (at-least-once): nothing is redone.
    again = process_job(
        factory, video_id=video_id, worker_id="w2", settings=settings, analyzer=fake_analyzer
    )
    assert again is Outcome.ALREADY_FINISHED and len(fake_analyzer.calls) == 1
    assert not list(storage.results_dir(settings).glob("*.tmp"))


def test_user_errors_and_crashes_fail_the_job_with_a_reason(factory, settings, fake_analyzer):
    fake_analyzer.fail = "clip.mp4: the video track has no frames"
    failed = _video(factory, settings)
    assert (
        process_job(
            factory, video_id=failed, worker_id="w", settings=settings, analyzer=fake_analyzer
        )
        is Outcome.FAILED
    )
    assert _row(factory, failed).error == "clip.mp4: the video track has no frames"
    fake_analyzer.fail, fake_analyzer.crash = None, True
    crashed = _video(factory, settings)
    process_job(factory, video_id=crashed, worker_id="w", settings=settings, analyzer=fake_analyzer)
    row = _row(factory, crashed)
    assert row.status == "failed" and "internal error" in row.error and "RuntimeError" in row.error
    assert not storage.result_dir(settings, crashed).exists()


def test_a_live_claim_is_respected_and_a_stale_one_taken_over(factory, settings, fake_analyzer):
    video_id = _video(factory, settings)
    assert claim_job(factory, video_id=video_id, worker_id="dead", settings=settings) is None
    # The first worker still beats: the job is busy for everyone else.
    assert claim_job(factory, video_id=video_id, worker_id="w2", settings=settings) is Outcome.BUSY
    with factory() as session:  # its heartbeat stops (the worker died)
        row = session.get(Video, video_id)
        row.heartbeat_at = utcnow() - timedelta(seconds=settings.job_lease_seconds + 1)
        row.updated_at = row.heartbeat_at
        session.commit()
    assert stale_jobs(factory, settings=settings) == [video_id]
    # The dead worker left half-written output behind.
    (storage.results_dir(settings) / f"{video_id}.dead.tmp").mkdir(parents=True)
    (storage.results_dir(settings) / f".{video_id}.dead.tmp.partial-1234").mkdir()
    assert (
        process_job(
            factory, video_id=video_id, worker_id="w2", settings=settings, analyzer=fake_analyzer
        )
        is Outcome.DONE
    )
    row = _row(factory, video_id)
    assert row.attempts == 2 and row.claimed_by == "w2"
    assert [p.name for p in storage.results_dir(settings).iterdir()] == [video_id]
    # The dead worker's late result is fenced off: it no longer holds the claim.
    late = run_claimed(
        factory, video_id=video_id, worker_id="dead", settings=settings, analyzer=fake_analyzer
    )
    assert late is Outcome.LOST and _row(factory, video_id).claimed_by == "w2"


def test_a_job_that_keeps_killing_workers_fails(factory, settings):
    video_id = _video(factory, settings, attempts=settings.job_max_attempts, status="running")
    outcome = claim_job(factory, video_id=video_id, worker_id="w", settings=settings)
    assert outcome is Outcome.FAILED
    assert "interrupted" in _row(factory, video_id).error


def test_heartbeat_keeps_a_long_job_claimed(factory, make_settings, fake_analyzer):
    settings = make_settings(job_lease_seconds=0.4)
    lease = timedelta(seconds=settings.job_lease_seconds)
    video_id = _video(factory, settings)
    fake_analyzer.gate.clear()  # the job runs until the test lets it finish
    assert claim_job(factory, video_id=video_id, worker_id="w1", settings=settings) is None
    claimed_at = _row(factory, video_id).heartbeat_at
    outcomes = []
    runner = threading.Thread(
        target=lambda: outcomes.append(
            run_claimed(
                factory, video_id=video_id, worker_id="w1", settings=settings,
                analyzer=fake_analyzer,
            )
        )
    )  # fmt: skip
    runner.start()
    try:
        # Held at the gate, the job writes nothing but heartbeats: once one lands three leases
        # after the claim, a claim that was not renewed would long have gone stale.
        assert wait_until(lambda: _row(factory, video_id).heartbeat_at - claimed_at > 3 * lease)
        assert claim_job(factory, video_id=video_id, worker_id="w2", settings=settings) is (
            Outcome.BUSY
        )
    finally:
        fake_analyzer.gate.set()
    runner.join()
    assert outcomes == [Outcome.DONE] and _row(factory, video_id).claimed_by == "w1"


def test_deleted_while_running_drops_the_results(factory, settings, fake_analyzer):
    video_id = _video(factory, settings)
    assert claim_job(factory, video_id=video_id, worker_id="w", settings=settings) is None

    def delete_midway(*args, **kwargs):
        with factory() as session:
            session.delete(session.get(Video, video_id))
            session.commit()
        return fake_analyzer(*args, **kwargs)

    outcome = run_claimed(
        factory, video_id=video_id, worker_id="w", settings=settings, analyzer=delete_midway
    )
    assert outcome in (Outcome.LOST, Outcome.CANCELLED)  # finished first, or stopped
    assert not storage.result_dir(settings, video_id).exists()


def test_worker_picks_up_jobs_left_by_a_crash(factory, settings, fake_analyzer):
    queued = _video(factory, settings)
    stale = _video(
        factory,
        settings,
        status=JobStatus.RUNNING.value,
        claimed_by="crashed-server",
        attempts=1,
        heartbeat_at=utcnow() - timedelta(minutes=5),
    )
    worker = InProcessWorker(
        session_factory=factory, settings=settings, analyzer_factory=lambda: fake_analyzer,
        concurrency=2,
    )  # fmt: skip
    worker.start()
    try:
        assert wait_until(lambda: all(_row(factory, v).status == "done" for v in (queued, stale)))
        assert worker.alive and worker.model_loaded
    finally:
        worker.stop()
    assert _row(factory, queued).status == "done"
    assert _row(factory, stale).status == "done" and _row(factory, stale).attempts == 2


def test_worker_reports_a_model_that_does_not_load(factory, settings):
    def broken():
        raise RuntimeError("no such checkpoint")

    worker = InProcessWorker(session_factory=factory, settings=settings, analyzer_factory=broken)
    worker.start()
    try:
        assert wait_until(lambda: worker.last_error is not None)
        assert not worker.model_loaded
        assert "no such checkpoint" in (worker.last_error or "")
    finally:
        worker.stop()
