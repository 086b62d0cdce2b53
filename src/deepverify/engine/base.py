"""What every inference engine offers the pipeline: score one face track, explain its crops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from deepverify.model.card import ModelCard


@dataclass(frozen=True)
class TrackScores:
    """Raw outputs for one track of ``T`` crops (logits before temperature scaling).

    Attributes:
        video_logit: the LSTM's logit for the whole track.
        frame_logits: ``(T,)`` the per-crop head's logits.
        feature_maps: ``(T, F, h, w)`` the backbone's last feature maps, for the heatmaps.
    """

    video_logit: float
    frame_logits: np.ndarray
    feature_maps: np.ndarray


class Engine(Protocol):
    """A loaded detector: ONNX Runtime (base install) or PyTorch (``train`` extra).

    Attributes:
        name: the engine's registry name (``"onnx"`` or ``"torch"``).
        card: the model card the weights were verified against.
        cam_weights: ``(F,)`` the frame head's weights, for class activation maps.
    """

    name: str
    card: ModelCard
    cam_weights: np.ndarray

    def score_track(self, crops: np.ndarray) -> TrackScores:
        """Score one track of normalised crops ``(T, 3, S, S)`` float32 (``T >= 1``)."""
        ...


def check_crops(crops: np.ndarray, card: ModelCard) -> None:
    """Refuse a batch that is not ``(T >= 1, 3, S, S)`` with the card's ``S``."""
    size = card.input_size
    if crops.ndim != 4 or crops.shape[0] < 1 or crops.shape[1:] != (3, size, size):
        raise ValueError(f"crops must be (T>=1, 3, {size}, {size}), got shape {crops.shape}")
