"""What a live session says every few seconds: typed, frozen, and writable as JSON."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepverify.decision import Verdict
from deepverify.imaging import downscale

HEATMAP_SIDE = 160
"""Longest side, in pixels, of a heatmap sent with an update: enough to see where the model
looked on a face, and a few KiB as JPEG, so an update a second stays a small message."""
HEATMAP_JPEG_QUALITY = 80


@dataclass(frozen=True)
class TrackUpdate:
    """One face over the current window.

    Attributes:
        track_id: The face's number, kept from one update to the next while it stays in view.
        probability: Calibrated probability of "fake" over the window's frames of this face.
        verdict: Its verdict by the card's rule (INCONCLUSIVE when an evidence gate fails).
        reasons: Why it is not judged, if so.
        frames: Window frames it appears in.
        box: Its latest face box ``(x1, y1, x2, y2)``, full-resolution pixels.
        latest_frame: The frame (as in :attr:`LiveUpdate.frame_indices`) of that box and of the
            heatmap's crop.
        heatmap: The latest crop with its heatmap overlaid, RGB ``uint8`` (None when not
            explaining); not part of :meth:`LiveUpdate.to_dict` (see :class:`UpdateEncoder`).
    """

    track_id: int
    probability: float
    verdict: Verdict
    reasons: tuple[str, ...]
    frames: int
    box: tuple[float, float, float, float]
    latest_frame: int
    heatmap: np.ndarray | None = None


@dataclass(frozen=True)
class LiveUpdate:
    """The verdict over the last window of sampled frames, and how the session keeps up.

    Attributes:
        seq: 1, 2, ... in order.
        elapsed_s: Wall seconds since the session started.
        stream_time_s: Stream time of the newest frame in the window.
        verdict: The window's verdict, by the same rule as a file's.
        probability: The window's calibrated probability (None without a face).
        reasons: Why the verdict is INCONCLUSIVE, if so.
        tracks: Each face in the window.
        frame_indices: The window's frames (decoded-frame ordinals from the session start).
        frame_lags_s: For each frame first included in this update, seconds from its arrival
            (decoded) to this update.
        fps: Sampled frames analysed per second over the window.
        frames_sampled: Frames the sampler picked since the start.
        frames_dropped: Of those, frames skipped because newer ones came before they were
            analysed (the session was behind).
        reconnects: Times the stream was reopened.
    """

    seq: int
    elapsed_s: float
    stream_time_s: float
    verdict: Verdict
    probability: float | None
    reasons: tuple[str, ...]
    tracks: tuple[TrackUpdate, ...]
    frame_indices: tuple[int, ...]
    frame_lags_s: tuple[float, ...]
    fps: float
    frames_sampled: int
    frames_dropped: int
    reconnects: int

    @property
    def lag_s(self) -> float:
        """The longest wait of a frame first included here (0 when none is new)."""
        return max(self.frame_lags_s, default=0.0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (heatmap images left out)."""
        return {
            "seq": self.seq,
            "elapsed_s": round(self.elapsed_s, 3),
            "stream_time_s": round(self.stream_time_s, 3),
            "verdict": self.verdict,
            "probability": self.probability,
            "reasons": list(self.reasons),
            "tracks": [
                {
                    "track_id": t.track_id,
                    "probability": t.probability,
                    "verdict": t.verdict,
                    "reasons": list(t.reasons),
                    "frames": t.frames,
                    "box": [round(v, 1) for v in t.box],
                }
                for t in self.tracks
            ],
            "frame_indices": list(self.frame_indices),
            "lag_s": round(self.lag_s, 3),
            "frame_lags_s": list(self.frame_lags_s),
            "fps": round(self.fps, 2),
            "frames_sampled": self.frames_sampled,
            "frames_dropped": self.frames_dropped,
            "reconnects": self.reconnects,
        }


def heatmap_data_url(image: np.ndarray, *, side: int = HEATMAP_SIDE) -> str:
    """An RGB ``uint8`` image as a JPEG ``data:`` URL, shrunk to at most ``side`` px a side."""
    import cv2  # here, not at import: the CLI reads this module for `--help`

    small, _ = downscale(image, side)
    params = [cv2.IMWRITE_JPEG_QUALITY, HEATMAP_JPEG_QUALITY]
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"an image of shape {image.shape} does not encode as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode("ascii")


class UpdateEncoder:
    """A session's updates as JSON, each face's latest heatmap in them only when it is new.

    A face's entry carries ``"heatmap"`` (:func:`heatmap_data_url`) in the first update that
    has one and again whenever the face has a newer frame; in between it has none, and a client
    keeps showing the last. One encoder per session, given its updates in order.
    """

    def __init__(self, *, side: int = HEATMAP_SIDE) -> None:
        self.side = side
        self._sent: dict[int, int] = {}  # face number -> frame of the heatmap last sent

    def encode(self, update: LiveUpdate) -> dict[str, Any]:
        """:meth:`LiveUpdate.to_dict`, with the heatmaps the client has not seen yet."""
        data = update.to_dict()
        sent: dict[int, int] = {}
        for track, entry in zip(update.tracks, data["tracks"], strict=True):
            if track.heatmap is None:
                continue
            if self._sent.get(track.track_id) != track.latest_frame:
                entry["heatmap"] = heatmap_data_url(track.heatmap, side=self.side)
            sent[track.track_id] = track.latest_frame
        # A face gone from the window is forgotten: its number is never given again.
        self._sent = sent
        return data
