"""Score a whole track in one call: the reference for the pipeline's piecewise scoring."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepverify.engine import Engine


@dataclass(frozen=True)
class TrackScores:
    """Raw outputs for one track of ``T`` crops (logits before temperature scaling).

    Attributes:
        video_logit: the LSTM's logit for the whole track.
        frame_logits: ``(T,)`` the per-crop head's logits.
        feature_maps: ``(T, F, h, w)`` the backbone's last feature maps.
    """

    video_logit: float
    frame_logits: np.ndarray
    feature_maps: np.ndarray


def score_track(engine: Engine, crops: np.ndarray) -> TrackScores:
    """Score normalised crops ``(T, 3, S, S)`` at once: all the crops, then their sequence."""
    scores = engine.score_crops(crops)
    return TrackScores(
        video_logit=engine.score_sequence(scores.features),
        frame_logits=scores.frame_logits,
        feature_maps=scores.feature_maps,
    )
