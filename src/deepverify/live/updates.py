"""What a live session says every few seconds: typed, frozen, and writable as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from deepverify.decision import Verdict


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
        heatmap: The latest crop with its heatmap overlaid, RGB ``uint8`` (None when not
            explaining); not part of :meth:`LiveUpdate.to_dict`.
    """

    track_id: int
    probability: float
    verdict: Verdict
    reasons: tuple[str, ...]
    frames: int
    box: tuple[float, float, float, float]
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
