"""A live session: sampled frames in, an update every few seconds out.

Each sampled frame goes through ``scan``'s own stages as it arrives: face detection and crops
(:func:`deepverify.video.decode.detect_frame`) and the network's crop part
(:func:`deepverify.scoring.score_faces`). Every ``update_every_s`` seconds the last ``window``
frames are treated as a short video exactly as ``scan`` treats a file's sampled frames: the
same tracking (:func:`deepverify.faces.tracks.link_tracks`, the same rule on which tracks are
scored), the same sequence scoring and calibration (:func:`deepverify.scoring.score_tracks`) and
the same verdict (:func:`deepverify.decision.decide` with the card's policy). Its heavy-compression
gate reads a stream's video packets over the pixels decoded from them across the window, where
a file's reads the file's size over its frames' pixels.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import Protocol

from deepverify.decision import coded_bits_per_pixel, decide
from deepverify.engine import Engine
from deepverify.explain import overlay
from deepverify.faces import Detection, FaceDetector
from deepverify.faces.rescue import throttle_rescue
from deepverify.faces.tracks import Track, link_tracks
from deepverify.live.mailbox import Arrival, Coded
from deepverify.live.options import LiveOptions
from deepverify.live.source import LiveSource
from deepverify.live.updates import LiveUpdate, TrackUpdate
from deepverify.pipeline import scored_tracks
from deepverify.report.builder import track_evidence
from deepverify.scoring import FaceScores, ScoredTrack, score_faces, score_tracks
from deepverify.video.decode import SampledFrame, detect_frame


@dataclass(frozen=True)
class _Seen:
    frame: SampledFrame
    scores: FaceScores | None
    arrived: float
    coded: Coded | None


def run_live(
    source: str,
    *,
    model: Engine,
    detector: FaceDetector,
    options: LiveOptions | None = None,
    stop: threading.Event | None = None,
) -> Generator[LiveUpdate, None, None]:
    """Judge a live source; yields an update every ``options.update_every_s`` seconds.

    Closing the generator (or leaving the loop) stops reading the source. A local file ends
    with one last update covering its last frames.

    Args:
        source: A stream URL (see :data:`deepverify.live.source.STREAM_SCHEMES`) or a local file.
        model: The engine and its card.
        detector: The face detector; its rescue pass, if it has one, runs at most once every
            ``options.rescue_every_s`` (it costs about ten detections).
        options: Sampling, window, update rate and timeouts.
        stop: Set from another thread to end the session within an update interval, even
            while no frame comes.

    Raises:
        LiveSourceError: The source cannot be opened, carries no video, or stopped for good.
    """
    opts = options or LiveOptions()
    with LiveSource(source, fps=opts.fps, options=opts.source) as live:
        yield from judge_frames(live, model=model, detector=detector, options=opts, stop=stop)


class FrameSource(Protocol):
    """Where a session's sampled frames come from: a stream, a file, or frames a client pushes."""

    @property
    def sampled(self) -> int:
        """Frames sampled since the start."""
        ...

    @property
    def dropped(self) -> int:
        """Sampled frames replaced by newer ones before the session took them."""
        ...

    @property
    def reconnects(self) -> int:
        """Times the source was reopened."""
        ...

    def get(self, timeout: float) -> Arrival | None:
        """The newest sampled frame; None after ``timeout``; ``EOFError`` at the end."""
        ...


def judge_frames(
    frames: FrameSource,
    *,
    model: Engine,
    detector: FaceDetector,
    options: LiveOptions | None = None,
    stop: threading.Event | None = None,
) -> Generator[LiveUpdate, None, None]:
    """The session's loop over any frame source (see :func:`run_live` for the arguments).

    Raises:
        Whatever ``frames.get`` raises but ``EOFError`` (which ends the session).
    """
    opts = options or LiveOptions()
    card = model.card
    if opts.rescue_every_s:
        detector = throttle_rescue(detector, opts.rescue_every_s)
    window: deque[_Seen] = deque(maxlen=opts.window)
    names = _TrackNames()
    started = time.monotonic()
    next_update = started + opts.update_every_s
    fresh: list[float] = []  # arrival times of frames not in an update yet
    seq = 0
    ended = False
    while not ended and not (stop is not None and stop.is_set()):
        now = time.monotonic()
        try:
            arrival = frames.get(timeout=max(0.0, next_update - now))
        except EOFError:
            arrival, ended = None, True
        if arrival is not None:
            window.append(_process(arrival, model, detector, margin=card.crop_margin,
                                   explain=opts.explain))  # fmt: skip
            fresh.append(arrival.arrived)
        now = time.monotonic()
        over = opts.duration_s is not None and now - started >= opts.duration_s
        if (now >= next_update or ended or over) and fresh:
            seq += 1
            yield _update(seq, list(window), fresh, frames, names, model, started)
            fresh = []
        if now >= next_update:
            next_update = max(next_update + opts.update_every_s, now)
        if over:
            return


def _process(
    arrival: Arrival, model: Engine, detector: FaceDetector, *, margin: float, explain: bool
) -> _Seen:
    frame = detect_frame(
        arrival.frame, detector=detector, margin=margin, size=model.card.input_size
    )
    crops = [face.crop for face in frame.faces]
    scores = score_faces(model, crops, explain=explain) if crops else None
    return _Seen(frame, scores, arrival.arrived, arrival.coded)


def judge_window(
    frames: list[SampledFrame], scores: dict[int, FaceScores], model: Engine
) -> tuple[list[Track], list[ScoredTrack]]:
    """Track and score a window's frames as ``scan`` does a file's sampled frames.

    Returns:
        The scored tracks (track positions index ``frames``) and their scores.
    """
    tracks = scored_tracks(link_tracks([f.detections for f in frames]), len(frames))
    return tracks, score_tracks(frames, tracks, scores, model, latest_heatmap_only=True)


def _bits_per_pixel(seen: list[_Seen]) -> float | None:
    """The stream's coded bits per decoded pixel from a window's first frame to its last.

    Every frame decoded in between counts, not only the sampled ones, as a file's gate counts
    its whole size over all its frames. None for pushed pictures (the client's own JPEG
    encoding says nothing of the source's compression) and for a window of one frame.
    """
    first, last = seen[0].coded, seen[-1].coded
    if first is None or last is None:
        return None
    return coded_bits_per_pixel(last.bytes - first.bytes, last.pixels - first.pixels)


def _update(
    seq: int,
    seen: list[_Seen],
    fresh: list[float],
    live: FrameSource,
    names: _TrackNames,
    model: Engine,
    started: float,
) -> LiveUpdate:
    card = model.card
    frames = [s.frame for s in seen]
    scores = {s.frame.index: s.scores for s in seen if s.scores is not None}
    tracks, scored = judge_window(frames, scores, model)
    evidence = [track_evidence(t, s) for t, s in zip(tracks, scored, strict=True)]
    decision = decide(
        evidence, threshold=card.threshold, policy=card.policy, sampled_frames=len(frames),
        bits_per_pixel=_bits_per_pixel(seen), trained=card.trained,
    )  # fmt: skip
    ids = names.assign(tracks)
    track_updates = []
    for track, s, judged, track_id in zip(tracks, scored, decision.tracks, ids, strict=True):
        heatmap = overlay(s.crops[-1], s.cams[-1]) if s.cams is not None else None
        track_updates.append(
            TrackUpdate(
                track_id=track_id,
                probability=s.probability,
                verdict=judged.verdict,
                reasons=tuple(r.message for r in judged.reasons),
                frames=len(track.positions),
                box=tuple(float(v) for v in track.detections[-1].box),  # type: ignore[arg-type]
                latest_frame=frames[track.positions[-1]].index,
                heatmap=heatmap,
            )
        )
    now = time.monotonic()
    span = seen[-1].arrived - seen[0].arrived if len(seen) > 1 else 0.0
    return LiveUpdate(
        seq=seq,
        elapsed_s=now - started,
        stream_time_s=frames[-1].timestamp,
        verdict=decision.verdict,
        probability=decision.probability,
        reasons=tuple(r.message for r in decision.reasons),
        tracks=tuple(track_updates),
        frame_indices=tuple(f.index for f in frames),
        frame_lags_s=tuple(round(now - t, 4) for t in fresh),
        fps=(len(seen) - 1) / span if span > 0 else 0.0,
        frames_sampled=live.sampled,
        frames_dropped=live.dropped,
        reconnects=live.reconnects,
    )


class _TrackNames:
    """Keeps a face's number from one update to the next.

    Consecutive windows share frames, and a shared frame's detections are the same objects: a
    window's track takes the number that most of its earlier-seen detections had.
    """

    def __init__(self) -> None:
        # The detection objects are kept (not only their ids) so that an id is never reused.
        self._by_detection: dict[int, tuple[Detection, int]] = {}
        self._next = 0

    def _number(self, detection: Detection) -> int | None:
        known = self._by_detection.get(id(detection))
        return known[1] if known is not None and known[0] is detection else None

    def assign(self, tracks: list[Track]) -> list[int]:
        """One persistent number per track, in order."""
        taken: set[int] = set()
        by_track: dict[int, int] = {}
        for track in sorted(tracks, key=lambda t: -len(t.positions)):
            votes = [n for d in track.detections if (n := self._number(d)) is not None]
            known = max(set(votes) - taken, key=votes.count, default=None)
            if known is None:
                known, self._next = self._next, self._next + 1
            taken.add(known)
            by_track[track.track_id] = known
        self._by_detection = {
            id(d): (d, by_track[t.track_id]) for t in tracks for d in t.detections
        }
        return [by_track[t.track_id] for t in tracks]
