"""Link face detections across the sampled frames into one track per person (greedy IoU)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from deepverify.faces.base import Detection
from deepverify.geometry import iou

DEFAULT_MAX_GAP = 2
"""Sampled frames a track may miss (occlusion, a missed detection) and still be continued."""

MIN_TRACK_FRACTION = 0.2
"""A track seen in fewer than this share of the sampled frames is most likely a false detection
(a poster, a pattern). The pipeline does not score it (unless it is the only track) and training
does not learn from it."""

RESCUE_MIN_FRACTION = 0.15
"""A track made only of second-pass (``rescued``) detections is kept when it holds at least this
share of the sampled frames (and at least :data:`RESCUE_MIN_DETECTIONS`): a real face persists
across frames, a phantom from a second look flickers."""
RESCUE_MIN_DETECTIONS = 2


@dataclass(frozen=True)
class Track:
    """One person's face over time.

    Attributes:
        track_id: 0-based, in order of first appearance (longer tracks do not come first).
        positions: Indices into the sampled frame list, increasing.
        detections: One detection per position.
    """

    track_id: int
    positions: tuple[int, ...]
    detections: tuple[Detection, ...]


@dataclass
class _Open:
    positions: list[int] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)

    @property
    def last(self) -> Detection:
        return self.detections[-1]


def link_tracks(
    detections: Sequence[Sequence[Detection]],
    *,
    iou_threshold: float = 0.3,
    min_length: int = 1,
    max_gap: int = DEFAULT_MAX_GAP,
) -> list[Track]:
    """Greedily link per-frame detections into tracks.

    Frame by frame, candidate (track, detection) pairs are taken in order of decreasing IoU with
    the track's latest box; each track and each detection is used once, pairs below
    ``iou_threshold`` are not linked. A detection left over starts a new track. A track not
    continued for more than ``max_gap`` sampled frames is closed.

    Args:
        detections: For each sampled frame, the faces found in it.
        iou_threshold: Least IoU with a track's last box for a detection to join it.
        min_length: Tracks with fewer detections are dropped (spurious one-frame hits).
        max_gap: Sampled frames a track may skip.

    Returns:
        Tracks with at least ``min_length`` detections, numbered 0.. by first appearance. A track
        whose detections are all ``rescued`` needs :data:`RESCUE_MIN_FRACTION` of the frames.
    """
    active: list[_Open] = []
    closed: list[_Open] = []
    for position, found in enumerate(detections):
        still_active: list[_Open] = []
        for track in active:
            (still_active if position - track.positions[-1] <= max_gap + 1 else closed).append(
                track
            )
        active = still_active
        pairs = sorted(
            (
                (iou(track.last.box, det.box), t, d)
                for t, track in enumerate(active)
                for d, det in enumerate(found)
            ),
            key=lambda pair: pair[0],
            reverse=True,
        )
        used_tracks: set[int] = set()
        used_dets: set[int] = set()
        for overlap, t, d in pairs:
            if overlap < iou_threshold:
                break
            if t in used_tracks or d in used_dets:
                continue
            used_tracks.add(t)
            used_dets.add(d)
            active[t].positions.append(position)
            active[t].detections.append(found[d])
        for d, det in enumerate(found):
            if d not in used_dets:
                active.append(_Open([position], [det]))
    tracks = sorted(closed + active, key=lambda t: t.positions[0])
    least_rescued = max(RESCUE_MIN_DETECTIONS, math.ceil(RESCUE_MIN_FRACTION * len(detections)))
    kept = [
        t
        for t in tracks
        if len(t.positions) >= min_length
        and (len(t.positions) >= least_rescued or not all(d.rescued for d in t.detections))
    ]
    return [
        Track(track_id=i, positions=tuple(t.positions), detections=tuple(t.detections))
        for i, t in enumerate(kept)
    ]
