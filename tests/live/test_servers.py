"""Live sessions against real stream servers: ffmpeg over RTMP, rtsp-server-perl over RTSP/UDP.

Needs Debian's ``ffmpeg`` and ``rtsp-server-perl`` (see :mod:`tests.live.servers`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deepverify.engine import Engine
from deepverify.faces import FaceDetector, create_detector
from deepverify.live.options import LiveOptions, SourceOptions
from deepverify.live.session import judge_frames, run_live
from deepverify.live.source import LiveSource
from deepverify.live.updates import LiveUpdate
from tests.live.conftest import free_port, judge_across_a_restart
from tests.live.servers import RtmpSender, RtspRelay
from tests.live.stamp import StampedFrames


@pytest.fixture
def rtmp(stream_clip: Path, tmp_path: Path) -> Iterator[Callable[..., RtmpSender]]:
    """Make a started ffmpeg RTMP sender on a free port; every one is killed at the end."""
    made: list[RtmpSender] = []

    def make(*, stamped: bool = False) -> RtmpSender:
        one = RtmpSender(stream_clip, free_port(), tmp_path / f"rtmp{len(made)}.log",
                         stamped=stamped)  # fmt: skip
        made.append(one)
        one.start()
        return one

    yield make
    for one in made:
        one.kill()


def _one_face_all_along(updates: list[LiveUpdate]) -> None:
    assert len(updates) >= 3
    assert [u.seq for u in updates] == list(range(1, len(updates) + 1))
    assert [len(u.tracks) for u in updates[1:]] == [1] * (len(updates) - 1)
    assert {t.track_id for u in updates for t in u.tracks} == {0}
    assert updates[-1].tracks[0].frames == len(updates[-1].frame_indices)


def test_an_ffmpeg_rtmp_stream_gives_updates_with_the_face(
    tiny_model: Engine, ssd: FaceDetector, rtmp: Callable[..., RtmpSender]
) -> None:
    stream = rtmp()
    options = LiveOptions(fps=4, window=8, update_every_s=1.0, duration_s=4.5, explain=False)
    updates = list(run_live(stream.url, model=tiny_model, detector=ssd, options=options))
    _one_face_all_along(updates)
    assert updates[-1].reconnects == 0
    assert updates[-1].frames_sampled >= 12  # about 4 a second came through


@pytest.mark.slow
def test_the_session_reconnects_when_ffmpeg_is_killed_and_restarted(
    tiny_model: Engine, ssd: FaceDetector, rtmp: Callable[..., RtmpSender]
) -> None:
    stream = rtmp()
    options = LiveOptions(
        fps=4, window=8, update_every_s=1.0, duration_s=30.0, explain=False,
        source=SourceOptions(read_timeout_s=2.0, stall_s=2.0, give_up_s=20.0),
    )  # fmt: skip
    seen, killed_at = judge_across_a_restart(
        stream, model=tiny_model, detector=ssd, options=options, frames_after=12
    )
    after = [u for u in seen if u.reconnects]
    assert after, "the session ended without reconnecting"
    assert after[-1].frames_sampled >= killed_at + 12, "too few frames after the restart"
    assert after[-1].tracks and after[-1].tracks[0].frames >= 4  # the face, from the new stream
    times = [u.stream_time_s for u in seen]
    assert times == sorted(times)  # stream time goes on across the restart, never back


@pytest.mark.slow
def test_an_rtsp_relay_serves_two_sessions_at_once(
    tiny_model: Engine, stream_clip: Path, tmp_path: Path
) -> None:
    relay = RtspRelay(stream_clip, (free_port(), free_port()), tmp_path)
    options = LiveOptions(fps=4, window=8, update_every_s=1.0, duration_s=5.5, explain=False)
    results: list[list[LiveUpdate]] = [[], []]
    errors: list[BaseException] = []

    def read(k: int) -> None:
        detector = create_detector("opencv-ssd")  # a detector is not for two threads at once
        try:
            results[k] = list(
                run_live(relay.url, model=tiny_model, detector=detector, options=options)
            )
        except BaseException as exc:  # raised in the test's thread below
            errors.append(exc)

    relay.start()
    try:
        readers = [threading.Thread(target=read, args=(k,)) for k in range(2)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
    finally:
        relay.kill()
    assert not errors, errors
    for updates in results:
        _one_face_all_along(updates)


@pytest.mark.slow
def test_true_lag_from_frames_stamped_by_the_sender(
    tiny_model: Engine, ssd: FaceDetector, rtmp: Callable[..., RtmpSender]
) -> None:
    stream = rtmp(stamped=True)
    options = LiveOptions(fps=4, window=8, update_every_s=1.0, duration_s=5.5, explain=False)
    pairs: list[tuple[float, float]] = []
    with LiveSource(stream.url, fps=options.fps, options=options.source) as live:
        frames = StampedFrames(live)
        for update in judge_frames(frames, model=tiny_model, detector=ssd, options=options):
            pairs.extend(frames.lags(update, time.time()))
            assert update.tracks, "the stamp must not hide the face"
    assert frames.unreadable == 0
    assert len(pairs) >= 12
    # A frame was stamped before it was encoded, sent and decoded: its true lag is longer than
    # its lag from arrival.
    assert all(0 < arrival < true for arrival, true in pairs), pairs
