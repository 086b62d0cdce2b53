"""A second detection pass for frames where the detector finds no face.

Whole-frame detectors shrink a 1080p frame to a few hundred pixels, so a small face, or one in a
dark scene, can vanish (the res10 SSD sees a 1920x1080 frame at 300x300). For a frame where the
first pass finds nothing, the same detector looks again at square tiles of the frame (each tile
as tall as the frame's short side, overlapping, so nothing is squeezed out of proportion) after a
local contrast equalisation (CLAHE on the lightness channel). The boxes it finds keep the
detector's own geometry, so their crops look like the ones the model was trained on.

A second look finds more phantoms too (equalised fur or fruit can look face-like to the SSD),
so each second-pass box must be confirmed twice: a detector of another architecture (the
*verifier*: YuNet for the SSD, the SSD for YuNet) must find a face at the same place in the
equalised surroundings, and :func:`deepverify.faces.tracks.link_tracks` keeps a track made of
rescued detections only when it recurs over several sampled frames (a real face persists, a phantom
flickers). Without a verifier only second-pass boxes scoring :data:`MIN_SCORE_UNVERIFIED` count.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import cv2
import numpy as np

from deepverify.faces.base import Detection, FaceDetector, clip_box, non_max_suppression
from deepverify.geometry import iou
from deepverify.imaging import Downscaled

TILE_OVERLAP = 1.3
"""Tiles per frame side, relative to the bare minimum that covers it."""
NMS_IOU = 0.4
MIN_SCORE_UNVERIFIED = 0.9
"""Without a verifier, second-pass boxes need this confidence (phantoms seen at 0.5-0.8)."""
VERIFY_CONTEXT = 2.0
"""Side of the square the verifier looks at, relative to the candidate box's longer side."""
VERIFY_IOU = 0.3
CLAHE_CLIP = 2.0
CLAHE_GRID = (8, 8)


def equalise(image: np.ndarray) -> np.ndarray:
    """CLAHE on the lightness of an RGB ``uint8`` image: dark faces regain their contrast."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(CLAHE_CLIP, CLAHE_GRID).apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def square_tiles(width: int, height: int) -> list[tuple[int, int, int]]:
    """``(x, y, side)`` of overlapping square tiles covering a frame (one for a square one)."""
    side = min(width, height)
    longest = max(width, height)
    if longest == side:
        return [(0, 0, side)]
    count = max(2, math.ceil(longest / side * TILE_OVERLAP))
    starts = np.linspace(0, longest - side, count).round().astype(int)
    if width >= height:
        return [(int(x), 0, side) for x in starts]
    return [(0, int(y), side) for y in starts]


class RescuingDetector:
    """Wraps a detector: its own result when it finds a face, else the second pass's."""

    def __init__(self, detector: FaceDetector, verifier: FaceDetector | None = None) -> None:
        self.base = detector
        self.verifier = verifier
        self.name = detector.name

    def detect(self, image: np.ndarray, *, small: Downscaled | None = None) -> list[Detection]:
        """Faces in ``image``, best first; second-pass ones carry ``rescued=True``.

        ``small`` goes to the first pass only (the second works on tiles of ``image``).
        """
        found = self.base.detect(image, small=small)
        return found if found else self.rescue(image)

    def rescue(self, image: np.ndarray) -> list[Detection]:
        """The second pass alone: equalised square tiles, boxes mapped back to ``image``."""
        height, width = image.shape[:2]
        bright = equalise(image)
        found = []
        for x, y, side in square_tiles(width, height):
            tile = np.ascontiguousarray(bright[y : y + side, x : x + side])
            for det in self.base.detect(tile):
                if self.verifier is None and det.score < MIN_SCORE_UNVERIFIED:
                    continue
                x1, y1, x2, y2 = det.box
                box = clip_box((x1 + x, y1 + y, x2 + x, y2 + y), width, height)
                landmarks = (
                    tuple((px + x, py + y) for px, py in det.landmarks) if det.landmarks else None
                )
                found.append(dataclasses.replace(det, box=box, landmarks=landmarks, rescued=True))
        kept = non_max_suppression(found, NMS_IOU)
        return [d for d in kept if self.confirmed(bright, d)] if self.verifier else kept

    def confirmed(self, bright: np.ndarray, det: Detection) -> bool:
        """Whether the verifier finds a face where ``det`` is, in its equalised surroundings."""
        assert self.verifier is not None
        height, width = bright.shape[:2]
        x1, y1, x2, y2 = det.box
        half = VERIFY_CONTEXT * max(x2 - x1, y2 - y1) / 2
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        left, top = max(0, round(cx - half)), max(0, round(cy - half))
        right, bottom = min(width, round(cx + half)), min(height, round(cy + half))
        if right - left < 8 or bottom - top < 8:
            return False
        region = np.ascontiguousarray(bright[top:bottom, left:right])
        local = (x1 - left, y1 - top, x2 - left, y2 - top)
        return any(iou(v.box, local) >= VERIFY_IOU for v in self.verifier.detect(region))


class ThrottledRescue:
    """A rescuing detector whose second pass runs at most once every ``interval_s`` seconds.

    For live sessions: the second pass costs about ten first passes (92 ms against 9 ms on a
    720p frame with no face, 2 cores), which at four frames a second would be a third of a core
    for a stream that shows no face. Frames where the first pass finds a face are unchanged.
    """

    def __init__(
        self,
        detector: RescuingDetector,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = detector
        self.name = detector.name
        self.interval_s = interval_s
        self._clock = clock
        self._last: float | None = None

    def detect(self, image: np.ndarray, *, small: Downscaled | None = None) -> list[Detection]:
        """The first pass's faces; else the second pass's, if its last run is old enough."""
        found = self.inner.base.detect(image, small=small)
        if found:
            return found
        now = self._clock()
        if self._last is not None and now - self._last < self.interval_s:
            return []
        self._last = now
        return self.inner.rescue(image)


def throttle_rescue(detector: FaceDetector, interval_s: float) -> FaceDetector:
    """``detector`` with its second pass rate-limited (:class:`ThrottledRescue`) if it has one."""
    if isinstance(detector, RescuingDetector):
        return ThrottledRescue(detector, interval_s)
    return detector
