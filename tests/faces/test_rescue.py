"""The second detection pass: finds the dark, small face the first misses, adds no phantoms."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from deepverify.faces import create_detector
from deepverify.faces.base import Detection
from deepverify.faces.rescue import RescuingDetector, ThrottledRescue, square_tiles, throttle_rescue
from deepverify.faces.tracks import link_tracks
from deepverify.video.frames import sample_frames

DARK_CLIP = "eval/fake/dfdc_abofeumbvv.mp4"  # 1080p, very dark, a ~90 px face


def test_square_tiles_cover_the_frame() -> None:
    tiles = square_tiles(1920, 1080)
    assert len(tiles) == 3 and all(side == 1080 and y == 0 for _, y, side in tiles)
    assert tiles[0][0] == 0 and tiles[-1][0] + 1080 == 1920
    assert square_tiles(720, 1280)[-1] == (0, 560, 720)
    assert square_tiles(500, 500) == [(0, 0, 500)]


def test_dark_small_face_is_found_by_the_second_pass(shared_data: Path) -> None:
    detector = create_detector("opencv-ssd")
    assert isinstance(detector, RescuingDetector) and detector.verifier is not None
    _, frames = sample_frames(shared_data / DARK_CLIP, 8)
    first = [detector.base.detect(f.image) for f in frames]
    both = [detector.detect(f.image) for f in frames]
    assert not any(first)  # the whole-frame pass sees nothing
    assert sum(bool(found) for found in both) >= 6
    assert all(d.rescued for found in both for d in found)
    boxes = [found[0].box for found in both if found]
    assert all(850 < (b[0] + b[2]) / 2 < 1000 and 180 < (b[1] + b[3]) / 2 < 280 for b in boxes)
    (track,) = link_tracks(both)
    assert len(track.positions) >= 6


@pytest.mark.parametrize("name", ["baboon.jpg", "apple.jpg", "butterfly.jpg"])
def test_no_phantom_faces_from_the_second_pass(shared_data: Path, name: str) -> None:
    image = cv2.cvtColor(cv2.imread(str(shared_data / "images" / name)), cv2.COLOR_BGR2RGB)
    assert create_detector("opencv-ssd").detect(image) == []


def test_a_flickering_rescued_face_is_not_a_track() -> None:
    box = (10.0, 10.0, 50.0, 50.0)
    rescued = Detection(box=box, score=0.8, rescued=True)
    first = Detection(box=box, score=0.8)
    only_once = [[rescued]] + [[] for _ in range(31)]
    assert link_tracks(only_once) == []
    assert len(link_tracks([[first]] + [[] for _ in range(31)])) == 1  # first-pass faces stay
    persistent = [[rescued] for _ in range(8)] + [[] for _ in range(24)]
    assert len(link_tracks(persistent)) == 1


class _Counting:
    """A detector that finds a face only in bright images, and counts its calls."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image: np.ndarray, *, small: object = None) -> list[Detection]:
        self.calls += 1
        return [Detection((0, 0, 8, 8), 0.99)] if image.mean() > 128 else []


def test_throttled_rescue_looks_again_at_most_once_per_interval() -> None:
    base = _Counting()
    now = [0.0]
    throttled = throttle_rescue(RescuingDetector(base), 2.0)
    assert isinstance(throttled, ThrottledRescue)
    throttled._clock = lambda: now[0]
    dark, bright = np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 200, np.uint8)
    assert throttled.detect(bright) and base.calls == 1  # found at once: no second pass
    tiles = len(square_tiles(64, 64))
    throttled.detect(dark)  # the first faceless frame gets its second pass
    assert base.calls == 2 + tiles
    for t in (0.5, 1.0, 1.9):  # within the interval: the first pass only
        now[0] = t
        assert throttled.detect(dark) == []
    assert base.calls == 5 + tiles
    now[0] = 2.1
    throttled.detect(dark)
    assert base.calls == 6 + 2 * tiles
    assert throttle_rescue(base, 2.0) is base  # nothing to throttle
