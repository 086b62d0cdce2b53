"""Figures of a detector that may abstain: coverage, accuracy of decisive verdicts, risk-coverage.

A verdict of FAKE or REAL is *decisive*; INCONCLUSIVE (including "no face") is not. Coverage is
the share of evaluated videos with a decisive verdict; what users rely on is the accuracy of
those. The risk-coverage curve ranks the scored videos by how far their probability lies from
the threshold and gives the error rate of the two-class decision among the most confident
``k`` of them, for every ``k``: how accuracy trades against coverage for any band.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepverify.training.metrics import square_plot

DECISIVE = ("REAL", "FAKE")
MANY_FACES = 3
"""A real video with at least this many face tracks is a crowd: one of the evaluation targets
is that none of them is called FAKE."""


def decisive_metrics(videos: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Coverage and accuracy of the decisive verdicts over evaluated videos.

    Args:
        videos: Rows with ``label`` (0/1), ``verdict``, ``reasons`` (codes), ``tracks`` and
            ``file``.
    """
    decisive = [v for v in videos if v["verdict"] in DECISIVE]
    right = [v for v in decisive if (v["verdict"] == "FAKE") == (v["label"] == 1)]
    called_fake = [v for v in decisive if v["verdict"] == "FAKE"]
    called_real = [v for v in decisive if v["verdict"] == "REAL"]
    verdicts = {
        name: dict(Counter(v["verdict"] for v in videos if v["label"] == label))
        for name, label in (("real", 0), ("fake", 1))
    }
    return {
        "videos": len(videos),
        "decisive": len(decisive),
        "coverage": _ratio(len(decisive), len(videos)),
        "accuracy": _ratio(len(right), len(decisive)),
        "precision_fake": _ratio(sum(v["label"] == 1 for v in called_fake), len(called_fake)),
        "precision_real": _ratio(sum(v["label"] == 0 for v in called_real), len(called_real)),
        "verdicts": verdicts,
        "inconclusive_reasons": dict(
            Counter(code for v in videos if v["verdict"] not in DECISIVE for code in v["reasons"])
        ),
        "real_crowds_called_fake": [
            v["file"]
            for v in videos
            if v["label"] == 0 and v["tracks"] >= MANY_FACES and v["verdict"] == "FAKE"
        ],
    }


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def confidence(probs: np.ndarray, threshold: float) -> np.ndarray:
    """How far each probability is from the threshold, as a share of the room on its side."""
    above = probs >= threshold
    room = np.where(above, 1.0 - threshold, threshold)
    return np.abs(probs - threshold) / np.maximum(room, 1e-9)


def risk_coverage(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, Any]:
    """The risk-coverage curve of the two-class decision, ranked by :func:`confidence`.

    Returns:
        ``coverage`` and ``risk`` lists (one point per video, most confident first) and the
        area under the curve (``aurc``, lower is better); empty without videos.
    """
    if labels.size == 0:
        return {"coverage": [], "risk": [], "aurc": None}
    order = np.argsort(-confidence(probs, threshold), kind="stable")
    wrong = ((probs[order] >= threshold).astype(int) != labels[order]).astype(np.float64)
    k = np.arange(1, labels.size + 1)
    risk = np.cumsum(wrong) / k
    return {
        "coverage": [round(float(c), 4) for c in k / labels.size],
        "risk": [round(float(r), 4) for r in risk],
        "aurc": round(float(risk.mean()), 4),
    }


def save_risk_coverage_plot(
    curve: dict[str, Any], operating: dict[str, Any], path: Path, title: str
) -> Path | None:
    """The curve as a PNG, with the verdicts' own (coverage, error) point; None without data."""
    if not curve["coverage"]:
        return None
    with square_plot(path) as ax:
        ax.plot(curve["coverage"], curve["risk"], lw=2, label=f"AURC = {curve['aurc']:.3f}")
        if operating["coverage"] is not None and operating["accuracy"] is not None:
            ax.scatter(
                [operating["coverage"]], [1.0 - operating["accuracy"]], c="crimson", zorder=3,
                label="verdicts (band and gates)",
            )  # fmt: skip
        ax.set(xlabel="coverage (share of videos decided)", ylabel="error rate", title=title)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, max(0.55, max(curve["risk"]) + 0.05))
        ax.legend(loc="upper left")
    return path
