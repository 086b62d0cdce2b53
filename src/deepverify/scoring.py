"""The network stage.

Each frame's faces are scored as soon as they are found, each track's sequence once the tracks
are known.

:class:`CropScorer` runs the engine's crop part on a worker thread while decoding and face
detection go on, a frame's few crops at a time (activation memory stays small whatever the
video); it keeps per face only the frame logit, the pooled features (what the sequence part
reads) and, when explaining, the small unscaled activation map. :func:`score_tracks` then runs
the sequence part once per track.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType

import numpy as np

from deepverify.calibration import calibrated_probabilities
from deepverify.engine import Engine
from deepverify.explain import activation_maps, scale_maps
from deepverify.faces import crops as crops_mod
from deepverify.faces.tracks import Track
from deepverify.video.decode import SampledFrame


@dataclass(frozen=True)
class FaceScores:
    """The network's outputs for one frame's faces, in the frame's face order.

    Attributes:
        frame_logits: ``(n,)`` per-crop logits (before temperature scaling).
        features: ``(n, F)`` pooled features, for the track's sequence.
        cams: ``(n, h, w)`` unscaled activation maps, or ``None`` when not explaining.
    """

    frame_logits: np.ndarray
    features: np.ndarray
    cams: np.ndarray | None


@dataclass(frozen=True)
class ScoredTrack:
    """One track's scores and what its heatmaps need.

    Attributes:
        crops: The track's crops, RGB ``uint8``.
        boxes: Square crop windows in full-resolution pixels, for pasting heatmaps back.
        probability: Calibrated, from the sequence model over the whole track.
        frame_probabilities: Calibrated, one per crop.
        cams: ``(T, S, S)`` heatmaps in [0, 1], when explaining; only the latest crop's,
            ``(1, S, S)``, when :func:`score_tracks` was asked for that alone.
        features: ``(F,)`` the crops' pooled features averaged over the track (what the
            out-of-distribution gate measures).
    """

    crops: list[np.ndarray]
    boxes: list[tuple[int, int, int, int]]
    probability: float
    frame_probabilities: np.ndarray
    cams: np.ndarray | None
    features: np.ndarray


def score_faces(model: Engine, crops: list[np.ndarray], *, explain: bool) -> FaceScores:
    """Run the network's crop part on one frame's face crops (RGB ``uint8``, card's size).

    :class:`CropScorer` calls it on its worker thread; live mode calls it frame by frame.
    """
    card = model.card
    out = model.score_crops(crops_mod.normalize(crops, mean=card.mean, std=card.std))
    cams = activation_maps(out.feature_maps, model.cam_weights) if explain else None
    return FaceScores(frame_logits=out.frame_logits, features=out.features, cams=cams)


class CropScorer:
    """Scores frames' face crops on one worker thread, in the order they are submitted.

    Use as a context manager; leaving it early (an error, a cancelled job) drops what is queued.
    """

    def __init__(self, model: Engine, *, explain: bool) -> None:
        self.model = model
        self.explain = explain
        self.seconds = 0.0  # spent in the network, written by the worker thread only
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._pending: dict[int, Future[FaceScores]] = {}

    def submit(self, frame: SampledFrame) -> None:
        """Queue the faces of ``frame`` (nothing for a frame without faces)."""
        if frame.faces:
            crops = [face.crop for face in frame.faces]
            self._pending[frame.index] = self._pool.submit(self._score, crops)

    def _score(self, crops: list[np.ndarray]) -> FaceScores:
        started = time.perf_counter()
        scores = score_faces(self.model, crops, explain=self.explain)
        self.seconds += time.perf_counter() - started
        return scores

    def results(self) -> dict[int, FaceScores]:
        """Wait for every queued frame; its scores by frame index. Raises the worker's error."""
        return {index: future.result() for index, future in self._pending.items()}

    def __enter__(self) -> CropScorer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def score_tracks(
    frames: list[SampledFrame],
    tracks: list[Track],
    faces: dict[int, FaceScores],
    model: Engine,
    *,
    latest_heatmap_only: bool = False,
) -> list[ScoredTrack]:
    """Score each track's sequence from its faces' features, and gather its faces' scores.

    Args:
        frames: The sampled frames (track positions index this list).
        tracks: The tracks to score.
        faces: :meth:`CropScorer.results`, by frame index.
        model: The engine that scored the crops.
        latest_heatmap_only: Scale only each track's latest heatmap (live mode shows no other;
            scaling is per map, so that one is the same either way).
    """
    card = model.card
    scored = []
    for track in tracks:
        rows = [
            (frames[pos], faces[frames[pos].index], frames[pos].face_number(det))
            for pos, det in zip(track.positions, track.detections, strict=True)
        ]
        features = np.stack([scores.features[k] for _, scores, k in rows])
        logits = np.array([scores.frame_logits[k] for _, scores, k in rows], dtype=np.float32)
        raw = [scores.cams[k] for _, scores, k in rows if scores.cams is not None]
        if latest_heatmap_only:
            raw = raw[-1:]
        video_logit = model.score_sequence(features)
        scored.append(
            ScoredTrack(
                crops=[frame.faces[k].crop for frame, _, k in rows],
                boxes=[frame.faces[k].window for frame, _, k in rows],
                probability=float(calibrated_probabilities([video_logit], card.temperature)[0]),
                frame_probabilities=calibrated_probabilities(logits, card.temperature),
                cams=scale_maps(np.stack(raw), size=card.input_size) if raw else None,
                features=features.mean(axis=0),
            )
        )
    return scored
