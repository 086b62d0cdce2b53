"""The network stage: faces scored while detection goes on, tracks scored as a whole track is."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from deepverify.calibration import calibrated_probabilities
from deepverify.engine import CropScores, Engine, load_engine
from deepverify.explain import activation_maps, scale_maps
from deepverify.faces import Detection, create_detector
from deepverify.faces import crops as crops_mod
from deepverify.faces.tracks import link_tracks
from deepverify.imaging import Downscaled
from deepverify.scoring import CropScorer, score_tracks
from deepverify.video.decode import decode_and_detect
from tests.engine.helpers import score_track


def _ignore(stage: str, fraction: float) -> None:
    pass


class _Events:
    """A shared log of what the detector and the engine were doing, and on which thread."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def add(self, what: str) -> None:
        with self.lock:
            self.log.append((what, threading.current_thread().name))


class _SlowDetector:
    name = "slow"

    def __init__(self, events: _Events) -> None:
        self.events = events

    def detect(self, image: np.ndarray, *, small: Downscaled | None = None) -> list[Detection]:
        self.events.add("detect")
        threading.Event().wait(0.03)  # detection takes a while: the model has time to work
        return [Detection(box=(100.0, 120.0, 260.0, 300.0), score=0.9)]


class _RecordingEngine:
    name = "recording"

    def __init__(self, like: Engine, events: _Events) -> None:
        self.card, self.cam_weights, self.events = like.card, like.cam_weights, events

    def score_crops(self, crops: np.ndarray) -> CropScores:
        self.events.add("score")
        n, f = len(crops), len(self.cam_weights)
        return CropScores(np.zeros(n, np.float32), np.zeros((n, f), np.float32),
                          np.zeros((n, f, 2, 2), np.float32))  # fmt: skip

    def score_sequence(self, features: np.ndarray) -> float:
        return 0.0


def test_faces_are_scored_on_a_worker_while_detection_goes_on(tiny_checkpoint, real_clip):
    events = _Events()
    engine = _RecordingEngine(load_engine(tiny_checkpoint), events)
    with CropScorer(engine, explain=False) as scorer:
        sampled = decode_and_detect(real_clip, 8, detector=_SlowDetector(events), margin=0.3,
                                    size=engine.card.input_size, notify=_ignore,
                                    on_frame=scorer.submit)  # fmt: skip
        results = scorer.results()
    assert sorted(results) == [f.index for f in sampled.frames]
    order = [what for what, _ in events.log]
    assert order.count("score") == 8
    # Scoring started before the last frame was detected, on another thread than detection.
    assert order.index("score") < len(order) - 1 - order[::-1].index("detect")
    assert {thread for what, thread in events.log if what == "score"} != {
        thread for what, thread in events.log if what == "detect"
    }


class _BrokenEngine(_RecordingEngine):
    def score_crops(self, crops: np.ndarray) -> CropScores:
        raise RuntimeError("engine broke")


def test_a_worker_error_is_raised_to_the_caller(tiny_checkpoint, real_clip):
    engine = _BrokenEngine(load_engine(tiny_checkpoint), _Events())
    detector = _SlowDetector(_Events())
    with pytest.raises(RuntimeError, match="engine broke"), CropScorer(engine, explain=True) as s:
        size = engine.card.input_size
        decode_and_detect(
            real_clip,
            4,
            detector=detector,
            margin=0.3,
            size=size,
            notify=_ignore,
            on_frame=s.submit,
        )
        s.results()


def test_tracks_score_as_the_whole_track_at_once(tiny_checkpoint, real_clip: Path):
    """Frames scored one by one, then the sequence: what scoring each whole track gives."""
    engine = load_engine(tiny_checkpoint)
    card = engine.card
    with CropScorer(engine, explain=True) as scorer:
        sampled = decode_and_detect(
            real_clip, 8, detector=create_detector("opencv-ssd"), margin=card.crop_margin,
            size=card.input_size, notify=_ignore, on_frame=scorer.submit,
        )  # fmt: skip
        faces = scorer.results()
    frames = sampled.frames
    tracks = link_tracks([f.detections for f in frames])
    assert tracks
    for track, scored in zip(tracks, score_tracks(frames, tracks, faces, engine), strict=True):
        pairs = zip(track.positions, track.detections, strict=True)
        crops = [frames[p].face(d).crop for p, d in pairs]
        whole = score_track(engine, crops_mod.normalize(crops, mean=card.mean, std=card.std))
        expected = calibrated_probabilities([whole.video_logit], card.temperature)[0]
        assert scored.probability == pytest.approx(expected, abs=1e-6)
        np.testing.assert_allclose(
            scored.frame_probabilities,
            calibrated_probabilities(whole.frame_logits, card.temperature),
            atol=1e-6,
        )
        maps = activation_maps(whole.feature_maps, engine.cam_weights)
        cams = scale_maps(maps, size=card.input_size)
        assert scored.cams is not None
        np.testing.assert_allclose(scored.cams, cams, atol=1e-5)
        assert all(np.array_equal(a, b) for a, b in zip(scored.crops, crops, strict=True))
    # Live mode scales only each track's latest map: exactly the last of the full set.
    latest = score_tracks(frames, tracks, faces, engine, latest_heatmap_only=True)
    for full, only in zip(score_tracks(frames, tracks, faces, engine), latest, strict=True):
        assert full.cams is not None and only.cams is not None and len(only.cams) == 1
        np.testing.assert_array_equal(only.cams[0], full.cams[-1])
        assert only.probability == full.probability
