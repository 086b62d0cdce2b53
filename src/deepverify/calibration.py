"""Turning logits into calibrated probabilities: ``sigmoid(logit / temperature)``.

Numpy only, so the inference path (pipeline, service) needs neither scipy nor scikit-learn;
fitting the temperature and threshold lives in :mod:`deepverify.training.metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64))))


def calibrated_probabilities(
    logits: Sequence[float] | np.ndarray, temperature: float
) -> np.ndarray:
    """``sigmoid(logit / temperature)``."""
    return sigmoid(np.asarray(logits, dtype=np.float64) / temperature)
