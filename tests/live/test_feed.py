"""Frames pushed by a client (a browser's camera): JPEG checks, sampling, the same session."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepverify.engine import Engine
from deepverify.faces import FaceDetector
from deepverify.live.feed import FrameFeed, LiveFrameError, jpeg_size
from deepverify.live.options import LiveOptions
from deepverify.live.session import judge_frames
from deepverify.video.frames import sample_frames


def _jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return bytes(data)


def test_the_size_is_read_from_the_header() -> None:
    assert jpeg_size(_jpeg(np.zeros((48, 64, 3), np.uint8))) == (64, 48)
    _, png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(LiveFrameError, match="not a JPEG picture"):
        jpeg_size(bytes(png))
    with pytest.raises(LiveFrameError, match="gives no picture size"):
        jpeg_size(b"\xff\xd8\xff\xe0\x00\x10JFIF")


def test_frames_are_sampled_by_capture_time_and_bad_ones_refused() -> None:
    feed = FrameFeed(fps=4)
    small = _jpeg(np.full((32, 32, 3), 128, np.uint8))
    taken = [feed.push(small, 100.0 + k / 10) for k in range(20)]  # 2 s at 10 fps
    assert sum(taken) == 8 and taken[:4] == [True, False, False, True]
    assert feed.sampled == 8 and feed.dropped == 7  # nobody took them: the newest won
    arrival = feed.get(timeout=0.1)
    assert arrival is not None and arrival.frame.image.shape == (32, 32, 3)
    assert arrival.frame.timestamp == pytest.approx(1.8)
    with pytest.raises(LiveFrameError, match="capture order"):
        feed.push(small, 100.5)
    wide = _jpeg(np.zeros((8, 8300, 3), np.uint8))
    with pytest.raises(LiveFrameError, match="8300x8 is outside"):
        feed.push(wide, 103.0)
    damaged = small[:200]
    with pytest.raises(LiveFrameError, match="does not decode"):
        feed.push(damaged, 104.0)
    feed.end()
    with pytest.raises(EOFError):
        feed.get(timeout=0.1)


def test_pushed_camera_frames_are_judged_like_a_stream(
    tiny_model: Engine, ssd: FaceDetector, real_clip: Path
) -> None:
    pictures = [_jpeg(frame.image) for frame in sample_frames(real_clip, 30)[1]]
    feed = FrameFeed(fps=4)

    def camera() -> None:  # 10 fps, as the page sends
        for k, picture in enumerate(pictures):
            feed.push(picture, k / 10)
            time.sleep(0.1)
        feed.end()

    sender = threading.Thread(target=camera)
    sender.start()
    options = LiveOptions(fps=4, window=8, update_every_s=1.0)
    updates = list(judge_frames(feed, model=tiny_model, detector=ssd, options=options))
    sender.join()
    assert len(updates) >= 3
    assert all(len(u.tracks) == 1 for u in updates)
    assert {t.track_id for u in updates for t in u.tracks} == {0}
    assert updates[-1].frames_sampled == 12  # 3 s of frames at 4 fps
    assert updates[-1].frames_dropped <= 3  # a busy machine may make the session skip a few
    assert statistics.median(lag for u in updates for lag in u.frame_lags_s) < 1.5
