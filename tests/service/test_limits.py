"""Bounded work per upload: frame bombs refused fast, time budgets, per-user job limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deepverify.errors import InvalidVideoError
from deepverify.service.core.models import Video
from deepverify.service.core.settings import Settings
from deepverify.service.core.uploads import MediaLimits, over_limit
from deepverify.service.jobs.guard import AnalysisTimeoutError, JobGuard
from deepverify.service.main import create_app
from deepverify.video.frames import _open_video, _scan, probe_video, sample_frames
from tests.service.bombs import BOMB_FRAMES, make_frame_bomb
from tests.service.conftest import FakeAnalyzer, sign_up, upload, wait_for, wait_until


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_frame_bomb(tmp_path_factory.mktemp("bomb") / "bomb.mp4")


def test_the_bomb_is_what_the_issue_describes(bomb):
    assert bomb.stat().st_size < 200_000
    assert probe_video(bomb).frame_count == BOMB_FRAMES


def test_default_limits_refuse_the_4k_bomb_of_the_issue():
    limits = MediaLimits.from_settings(Settings())
    bomb_4k = {"width": 3840, "height": 2160, "frame_count": BOMB_FRAMES, "fps": 30.0}
    assert "pixels per second" in (over_limit({**bomb_4k, "duration_s": 333.0}, limits) or "")
    fine = {"width": 1920, "height": 1080, "frame_count": 9000, "fps": 30.0, "duration_s": 300}
    assert over_limit(fine, limits) is None


def test_the_probe_stops_reading_at_the_frame_limit(bomb):
    reads = 0

    def count() -> None:
        nonlocal reads
        reads += 1

    with pytest.raises(InvalidVideoError, match="more than 500 frames"):
        probe_video(bomb, max_frames=500)
    # The same scan, counted: it stops right after the limit instead of reading 10,000 packets.
    with (
        pytest.raises(InvalidVideoError, match="more than 500 frames"),
        _open_video(bomb) as (container, stream),
    ):
        _scan(bomb, container, stream, max_packets=500, check=count)
    assert reads == 501


def test_the_bomb_upload_is_refused_with_a_reason_and_the_next_job_runs(
    make_settings, fake_analyzer, bomb, clip_bytes
):
    settings = make_settings(max_video_frames=1_000)
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        headers = sign_up(client, "mallory@example.com")
        response = upload(client, headers, bomb.read_bytes(), name="tiny.mp4")
        assert response.status_code == 415
        assert "more than 1000 frames, over the limit" in response.json()["detail"]
        assert fake_analyzer.calls == []
        accepted = upload(client, headers, clip_bytes(0))
        assert accepted.status_code == 202
        assert wait_for(client, headers, accepted.json()["id"])["status"] == "done"


def test_a_bomb_queued_under_laxer_limits_fails_before_decoding_and_the_next_job_runs(
    make_settings, fake_analyzer, bomb, clip_bytes
):
    def no_model() -> FakeAnalyzer:
        raise RuntimeError("no worker in this phase")

    lax = make_settings(max_video_frames=50_000)
    with TestClient(create_app(lax, analyzer_factory=no_model)) as client:  # nothing runs
        headers = sign_up(client, "mallory@example.com")
        bomb_id = upload(client, headers, bomb.read_bytes(), name="tiny.mp4").json()["id"]
        next_id = upload(client, headers, clip_bytes(1)).json()["id"]

    strict = make_settings(max_video_frames=1_000, max_running_jobs_per_user=2)
    app = create_app(strict, analyzer_factory=lambda: fake_analyzer)
    with TestClient(app) as client:
        failed = wait_for(client, headers, bomb_id)
        done = wait_for(client, headers, next_id)
        with app.state.session_factory() as session:
            bomb_row, next_row = session.get(Video, bomb_id), session.get(Video, next_id)
            assert bomb_row is not None and next_row is not None
            assert bomb_row.finished_at <= next_row.started_at  # it did not hold the worker
    assert failed["status"] == "failed"
    assert f"has {BOMB_FRAMES} frames, more than the limit of 1000" in failed["error"]
    assert done["status"] == "done"
    assert len(fake_analyzer.calls) == 1  # the bomb never reached the decoder


def test_decoding_stops_at_the_time_budget(bomb):
    ticks = iter(range(10**6))
    guard = JobGuard(max_seconds=300, clock=lambda: float(next(ticks)))  # 1 "second" per check
    with pytest.raises(AnalysisTimeoutError, match="longer than the limit of 300 s"):
        sample_frames(bomb, 8, check=guard)
    assert next(ticks) < 400  # stopped right after the budget, not after 20,000 checks


@pytest.fixture
def gated(
    make_settings: Callable[..., Settings], fake_analyzer: FakeAnalyzer
) -> Iterator[tuple[TestClient, FakeAnalyzer]]:
    fake_analyzer.gate.clear()
    settings = make_settings(
        max_pending_jobs_per_user=2, worker_concurrency=2, max_running_jobs_per_user=1
    )
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        try:
            yield client, fake_analyzer
        finally:
            fake_analyzer.gate.set()


def _statuses(client: TestClient, headers: dict[str, str], ids: list[str]) -> list[str]:
    return [client.get(f"/api/videos/{i}", headers=headers).json()["status"] for i in ids]


@pytest.mark.postgres
def test_queued_jobs_per_user_are_capped(gated, clip_bytes):
    client, _ = gated
    alice = sign_up(client, "alice@example.com")
    assert upload(client, alice, clip_bytes(0)).status_code == 202
    assert upload(client, alice, clip_bytes(1)).status_code == 202
    refused = upload(client, alice, clip_bytes(2))
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "waiting for analysis" in refused.json()["detail"]
    bob = sign_up(client, "bob@example.com")
    assert upload(client, bob, clip_bytes(2)).status_code == 202


@pytest.mark.postgres
def test_one_user_cannot_take_every_worker(gated, clip_bytes):
    client, fake = gated
    alice = sign_up(client, "alice@example.com")
    bob = sign_up(client, "bob@example.com")
    first, second = (upload(client, alice, clip_bytes(i)).json()["id"] for i in (0, 1))
    bobs = upload(client, bob, clip_bytes(2)).json()["id"]
    assert wait_until(lambda: len(fake.calls) == 2)
    assert _statuses(client, alice, [first, second]) == ["running", "queued"]
    assert _statuses(client, bob, [bobs]) == ["running"]
    fake.gate.set()
    for video_id, headers in ((first, alice), (second, alice), (bobs, bob)):
        assert wait_for(client, headers, video_id)["status"] == "done"
