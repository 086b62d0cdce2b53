"""The decision policy a model card carries: video-score rule, uncertain band, evidence gates."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

Verdict = Literal["REAL", "FAKE", "INCONCLUSIVE"]
Aggregation = Literal["max", "largest", "largest_frames"]
ReasonCode = Literal[
    "no_face",
    "untrained_model",
    "uncertain_score",
    "small_faces",
    "few_face_frames",
    "low_detection_confidence",
    "heavy_compression",
    "out_of_distribution",
]

AGGREGATIONS: tuple[Aggregation, ...] = ("max", "largest", "largest_frames")
"""The video-score rules :func:`aggregate` knows; ``fit-decision`` measures each on val."""


class OODModel(BaseModel):
    """A standardised distance of a track's mean backbone features from the training reals.

    Attributes:
        mean: Per-feature mean over training-split real face tracks.
        scale: Per-feature standard deviation there (floored, so no feature dominates).
        threshold: Distances above it are out of distribution (fitted on held-out tracks).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float = Field(gt=0)

    @model_validator(mode="after")
    def _same_length(self) -> OODModel:
        if len(self.mean) != len(self.scale) or not self.mean:
            raise ValueError("ood mean and scale need the same, non-zero length")
        if min(self.scale) <= 0:
            raise ValueError("ood scale must be > 0")
        return self

    def distance(self, features: np.ndarray) -> float:
        """Root-mean-square z-score of ``features`` (one track's mean feature vector)."""
        mean = np.asarray(self.mean, dtype=np.float64)
        if features.shape != mean.shape:
            raise ValueError(f"ood needs {mean.size} features, got shape {features.shape}")
        z = (features.astype(np.float64) - mean) / np.asarray(self.scale, dtype=np.float64)
        return float(np.sqrt(np.mean(z * z)))


class DecisionPolicy(BaseModel):
    """How calibrated probabilities and evidence become a verdict; stored in the model card.

    Attributes:
        aggregation: The video-score rule (see :func:`aggregate`).
        relative_face_size: With ``largest``/``largest_frames``: faces smaller than this share
            of the largest face do not count (SBI's rule).
        band: ``(low, high)`` on the calibrated probability: REAL below ``low``, FAKE at or
            above ``high``, INCONCLUSIVE between. ``None``: the card's threshold alone.
        target_precision: The precision each decisive verdict was fitted to on the calibration
            split (recorded with the fit).
        min_face_px: A track whose median face side is below this is too small to judge.
        min_face_frames: The share of sampled frames that must hold a judged face.
        min_detection_score: A track whose median detection confidence is below this is not
            judged.
        min_bits_per_pixel: Videos coded with fewer bits per pixel (file size over pixels
            decoded) are too heavily compressed to judge; 0 turns the gate off.
        ood: Out-of-distribution statistics of the backbone features, when fitted.
        fitted: How and on what the band and the rule were chosen (for the model card).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    aggregation: Aggregation = "largest"
    relative_face_size: float = Field(default=0.5, ge=0.0, le=1.0)
    band: tuple[float, float] | None = None
    target_precision: float | None = Field(default=None, gt=0.0, le=1.0)
    min_face_px: float = Field(default=40.0, ge=0.0)
    min_face_frames: float = Field(default=0.25, ge=0.0, le=1.0)
    min_detection_score: float = Field(default=0.6, ge=0.0, le=1.0)
    min_bits_per_pixel: float = Field(default=0.004, ge=0.0)
    ood: OODModel | None = None
    fitted: dict[str, object] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered_band(self) -> DecisionPolicy:
        if self.band is not None:
            low, high = self.band
            if not 0.0 <= low <= high <= 1.0:
                raise ValueError(f"band must satisfy 0 <= low <= high <= 1, got {self.band}")
        return self

    def edges(self, threshold: float) -> tuple[float, float]:
        """``(low, high)``: the band, or the threshold on both sides when there is none."""
        return self.band if self.band is not None else (threshold, threshold)


DEFAULT_POLICY = DecisionPolicy()
