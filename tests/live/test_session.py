"""Live sessions on loopback streams: updates, reconnection, agreement with ``scan``."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path

import pytest

from deepverify.engine import Engine
from deepverify.faces import FaceDetector
from deepverify.live.options import LiveOptions, SourceOptions
from deepverify.live.session import run_live
from deepverify.live.source import LiveSourceError
from deepverify.pipeline import analyze_video
from deepverify.video.frames import probe_video
from tests.live.conftest import Sender, judge_across_a_restart


def test_a_stream_gives_an_update_every_second(
    tiny_model: Engine, ssd: FaceDetector, sender: Callable[[], Sender]
) -> None:
    stream = sender()
    options = LiveOptions(fps=4, window=8, update_every_s=1.0, duration_s=4.5)
    updates = list(run_live(stream.url, model=tiny_model, detector=ssd, options=options))
    assert len(updates) >= 3
    assert [u.seq for u in updates] == list(range(1, len(updates) + 1))
    last = updates[-1]
    # One face, seen in every frame of the full window, numbered the same all along.
    assert len(last.frame_indices) == 8
    assert [len(u.tracks) for u in updates[1:]] == [1] * (len(updates) - 1)
    assert {t.track_id for u in updates for t in u.tracks} == {0}
    assert last.tracks[0].frames == 8
    # An untrained model gives no verdict, by the same rule as a file.
    assert last.verdict == "INCONCLUSIVE"
    assert "the model is untrained" in last.reasons
    assert last.tracks[0].heatmap is not None
    assert last.tracks[0].heatmap.shape == (64, 64, 3)
    assert last.tracks[0].latest_frame == last.frame_indices[-1]  # in every frame: the newest
    # It keeps up (the machine may be busy with other work: a few drops are tolerated): frames
    # are judged within about a second of arriving.
    assert last.frames_dropped <= last.frames_sampled // 4
    assert 2.5 < last.fps < 5.0
    lags = [lag for u in updates for lag in u.frame_lags_s]
    assert statistics.median(lags) < 1.5
    assert max(lags) < 2.5
    assert updates[1].frame_indices[0] < updates[-1].frame_indices[0]  # the window slides


@pytest.mark.slow
def test_the_session_reconnects_when_the_sender_restarts(
    tiny_model: Engine, ssd: FaceDetector, sender: Callable[[], Sender]
) -> None:
    stream = sender()
    options = LiveOptions(
        fps=4, window=8, update_every_s=1.0, duration_s=20.0,
        source=SourceOptions(read_timeout_s=2.0, stall_s=2.0, give_up_s=15.0),
    )  # fmt: skip
    seen, _ = judge_across_a_restart(
        stream, model=tiny_model, detector=ssd, options=options, frames_after=9
    )
    last = seen[-1]
    assert last.reconnects >= 1, "the session ended without reconnecting"
    assert last.frames_sampled > seen[1].frames_sampled + 8  # frames came again after it
    assert last.tracks and last.tracks[0].frames >= 4
    assert last.stream_time_s > seen[1].stream_time_s  # stream time goes on, never back


def test_the_final_window_agrees_with_scan_on_the_same_frames(
    tiny_model: Engine, ssd: FaceDetector, real_clip: Path
) -> None:
    frames = 8
    fps = frames / probe_video(real_clip).duration_s
    options = LiveOptions(fps=fps, window=frames, update_every_s=60.0)
    updates = list(run_live(str(real_clip), model=tiny_model, detector=ssd, options=options))
    report = analyze_video(real_clip, model=tiny_model, detector=ssd, num_frames=frames,
                           explain=False)  # fmt: skip
    final = updates[-1]
    assert list(final.frame_indices) == [f.index for f in report.frames]
    assert final.probability is not None and report.probability is not None
    assert abs(final.probability - report.probability) <= 0.1
    assert [t.probability for t in final.tracks] == pytest.approx(
        [t.probability for t in report.tracks], abs=0.1
    )
    assert final.verdict == report.verdict


def test_a_stream_that_stays_down_ends_with_one_clear_error(
    tiny_model: Engine, ssd: FaceDetector, sender: Callable[[], Sender]
) -> None:
    stream = sender()
    options = LiveOptions(
        fps=4, window=8, update_every_s=1.0, duration_s=30.0,
        source=SourceOptions(open_timeout_s=1.0, read_timeout_s=1.0, stall_s=1.0, give_up_s=3.0),
    )  # fmt: skip
    seen = []
    with pytest.raises(LiveSourceError) as caught:
        for update in run_live(stream.url, model=tiny_model, detector=ssd, options=options):
            seen.append(update)
            if len(seen) == 1:
                stream.kill()
    assert seen
    message = str(caught.value)
    assert message.startswith(f"{stream.url}: no frame for ")
    assert message.endswith("check that the stream is still live")
    assert "\n" not in message
