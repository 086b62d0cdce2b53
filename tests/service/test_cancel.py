"""Deleting a queued or running video cancels its analysis; the worker moves on."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from deepverify.service.core import storage
from deepverify.service.jobs.guard import JobCancelledError, JobGuard
from deepverify.service.main import create_app
from deepverify.video.frames import sample_frames
from tests.service.bombs import make_frame_bomb
from tests.service.conftest import sign_up, upload, wait_for, wait_until


@pytest.mark.postgres
def test_deleting_a_running_video_stops_its_analysis(make_settings, fake_analyzer, clip_bytes):
    # The analyzer is held at its gate (checking `check` as the decoder does) and never let go:
    # only a cancellation can free the single worker for the next job.
    fake_analyzer.gate.clear()
    settings = make_settings(cancel_check_seconds=0.1, max_running_jobs_per_user=2)
    app = create_app(settings, analyzer_factory=lambda: fake_analyzer)
    try:
        with TestClient(app) as client:
            headers = sign_up(client, "carol@example.com")
            running = upload(client, headers, clip_bytes(0)).json()["id"]
            assert wait_until(lambda: len(fake_analyzer.calls) == 1)
            queued = upload(client, headers, clip_bytes(1)).json()["id"]
            deleted = client.delete(f"/api/videos/{running}", headers=headers)
            assert deleted.status_code == 200
            assert wait_until(lambda: len(fake_analyzer.calls) == 2)  # the gate is still closed
            assert not fake_analyzer.gate.is_set()
            leftovers = list(storage.results_dir(settings).glob(f"{running}*"))
            fake_analyzer.gate.set()
            assert wait_for(client, headers, queued)["status"] == "done"
    finally:
        fake_analyzer.gate.set()
    assert leftovers == []
    assert not (storage.results_dir(settings) / running).exists()


@pytest.mark.postgres
def test_deleting_a_queued_video_means_it_never_runs(make_settings, fake_analyzer, clip_bytes):
    fake_analyzer.gate.clear()
    settings = make_settings(max_running_jobs_per_user=2)
    try:
        with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
            headers = sign_up(client, "dave@example.com")
            first = upload(client, headers, clip_bytes(0)).json()["id"]
            assert wait_until(lambda: len(fake_analyzer.calls) == 1)
            second = upload(client, headers, clip_bytes(1)).json()["id"]
            assert client.delete(f"/api/videos/{second}", headers=headers).status_code == 200
            fake_analyzer.gate.set()
            assert wait_for(client, headers, first)["status"] == "done"
    finally:
        fake_analyzer.gate.set()
    assert len(fake_analyzer.calls) == 1


@pytest.mark.parametrize("after", [1, 500])
def test_decoding_stops_when_cancelled(tmp_path, after):
    bomb = make_frame_bomb(tmp_path / "bomb.mp4", frames=2_000)
    guard = JobGuard(max_seconds=3600)
    calls = 0

    def check() -> None:
        nonlocal calls
        calls += 1
        if calls == after:
            guard.cancel()  # as the heartbeat thread does when the row is gone
        guard()

    with pytest.raises(
        JobCancelledError, match="the video was deleted while it was being analysed"
    ):
        sample_frames(bomb, 8, check=check)
    assert calls == after
