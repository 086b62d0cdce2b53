"""Coverage, decisive accuracy and the risk-coverage curve, from planted verdicts and scores."""

from __future__ import annotations

import numpy as np
import pytest

from deepverify.training.selective import (
    confidence,
    decisive_metrics,
    risk_coverage,
    save_risk_coverage_plot,
)


def _video(name: str, label: int, verdict: str, tracks: int = 1, reasons=()) -> dict:
    return {"file": name, "label": label, "verdict": verdict, "tracks": tracks,
            "reasons": list(reasons)}  # fmt: skip


def test_decisive_metrics_count_only_decisive_verdicts():
    videos = [
        _video("r1", 0, "REAL"),
        _video("r2", 0, "FAKE", tracks=4),  # a real crowd called fake
        _video("r3", 0, "INCONCLUSIVE", reasons=["small_faces"]),
        _video("f1", 1, "FAKE"),
        _video("f2", 1, "REAL"),
        _video("f3", 1, "INCONCLUSIVE", reasons=["uncertain_score"]),
        _video("f4", 1, "INCONCLUSIVE", reasons=["no_face"]),
        _video("f5", 1, "FAKE"),
    ]
    m = decisive_metrics(videos)
    assert (m["videos"], m["decisive"]) == (8, 5)
    assert m["coverage"] == pytest.approx(5 / 8, abs=1e-4)
    assert m["accuracy"] == pytest.approx(3 / 5, abs=1e-4)  # r1, f1, f5 right
    assert m["precision_fake"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["precision_real"] == 0.5
    assert m["verdicts"]["real"] == {"REAL": 1, "FAKE": 1, "INCONCLUSIVE": 1}
    assert m["inconclusive_reasons"] == {"small_faces": 1, "uncertain_score": 1, "no_face": 1}
    assert m["real_crowds_called_fake"] == ["r2"]
    assert decisive_metrics([_video("x", 0, "INCONCLUSIVE")])["accuracy"] is None


def test_confidence_is_relative_to_the_room_on_each_side():
    probs = np.array([0.0, 0.2, 0.4, 0.7, 1.0])
    assert confidence(probs, 0.4).tolist() == pytest.approx([1.0, 0.5, 0.0, 0.5, 1.0])


def test_risk_coverage_ranks_the_confident_first(tmp_path):
    # The two confident videos are right, the two near the threshold wrong.
    labels = np.array([0, 1, 1, 0])
    probs = np.array([0.01, 0.99, 0.45, 0.55])
    curve = risk_coverage(labels, probs, threshold=0.5)
    assert curve["coverage"] == [0.25, 0.5, 0.75, 1.0]
    assert curve["risk"] == [0.0, 0.0, pytest.approx(1 / 3, abs=1e-4), 0.5]
    assert curve["aurc"] == pytest.approx((0 + 0 + 1 / 3 + 0.5) / 4, abs=1e-4)
    operating = {"coverage": 0.5, "accuracy": 1.0}
    assert save_risk_coverage_plot(curve, operating, tmp_path / "rc.png", "t").stat().st_size > 0
    empty = risk_coverage(np.array([], int), np.array([]), 0.5)
    assert (
        empty["aurc"] is None
        and save_risk_coverage_plot(empty, operating, tmp_path / "x.png", "t") is None
    )
