"""What every inference engine offers the pipeline: score face crops, then a track's sequence.

Scoring is split in two so that crops can be scored as soon as their frame's faces are found, a
few at a time (activation memory stays small, the work overlaps decoding), and the sequence model
runs once the tracks are known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from deepverify.model.card import ModelCard


@dataclass(frozen=True)
class CropScores:
    """Raw outputs for ``N`` crops, each scored on its own (logits before temperature scaling).

    Attributes:
        frame_logits: ``(N,)`` the per-crop head's logits.
        features: ``(N, F)`` pooled backbone features, what :meth:`Engine.score_sequence` reads.
        feature_maps: ``(N, F, h, w)`` the backbone's last feature maps, for the heatmaps.
    """

    frame_logits: np.ndarray
    features: np.ndarray
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

    def score_crops(self, crops: np.ndarray) -> CropScores:
        """Score normalised crops ``(N, 3, S, S)`` float32 (``N >= 1``), each on its own."""
        ...

    def score_sequence(self, features: np.ndarray) -> float:
        """The video logit of one track from its crops' features ``(T, F)`` in time order."""
        ...


def check_crops(crops: np.ndarray, card: ModelCard) -> None:
    """Refuse a batch that is not ``(N >= 1, 3, S, S)`` with the card's ``S``."""
    size = card.input_size
    if crops.ndim != 4 or crops.shape[0] < 1 or crops.shape[1:] != (3, size, size):
        raise ValueError(f"crops must be (N>=1, 3, {size}, {size}), got shape {crops.shape}")


def check_features(features: np.ndarray, cam_weights: np.ndarray) -> None:
    """Refuse a sequence that is not ``(T >= 1, F)`` with the model's ``F``."""
    size = cam_weights.shape[0]
    if features.ndim != 2 or features.shape[0] < 1 or features.shape[1] != size:
        raise ValueError(f"features must be (T>=1, {size}), got shape {features.shape}")
