"""Metrics, calibration fits and plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepverify.calibration import calibrated_probabilities
from deepverify.training.metrics import (
    TEMPERATURE_RANGE,
    bootstrap_intervals,
    calibration_warning,
    classification_metrics,
    expected_calibration_error,
    fit_temperature,
    fit_threshold,
    save_reliability_plot,
    save_roc_plot,
    within_group_auc,
)


def test_metrics_on_known_predictions() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([0.1, 0.4, 0.6, 0.35, 0.8, 0.9])
    m = classification_metrics(labels, probs, threshold=0.5)
    assert m["confusion_matrix"] == {"tn": 2, "fp": 1, "fn": 1, "tp": 2}
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["roc_auc"] == pytest.approx(7 / 9)
    assert m["log_loss"] > 0 and 0 <= m["ece"] <= 1
    single = classification_metrics(np.array([1, 1]), np.array([0.7, 0.2]))
    assert single["roc_auc"] is None and single["accuracy"] == 0.5


def test_ece_zero_when_calibrated_and_large_when_not() -> None:
    probs = np.repeat([0.25, 0.75], 400)
    labels = np.concatenate([np.arange(400) < 100, np.arange(400) < 300]).astype(int)
    assert expected_calibration_error(labels, probs) == pytest.approx(0.0, abs=1e-9)
    assert expected_calibration_error(labels, np.where(probs > 0.5, 0.99, 0.01)) > 0.2


def test_temperature_recovers_scale() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, 20000)
    labels = (rng.uniform(size=true_logits.size) < 1 / (1 + np.exp(-true_logits))).astype(int)
    t = fit_temperature(labels, true_logits * 3.0)
    assert t == pytest.approx(3.0, rel=0.1)
    assert fit_temperature(np.ones(5), np.zeros(5)) == 1.0
    probs = calibrated_probabilities([0.0, 6.0], 3.0)
    assert probs[0] == pytest.approx(0.5) and probs[1] == pytest.approx(1 / (1 + np.exp(-2)))


def test_calibration_without_signal_is_flagged() -> None:
    """Logits that carry no order on the calibration clips push T to its bound: flagged."""
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 40)
    noise = rng.normal(0, 3, labels.size)
    t = fit_temperature(labels, noise)
    assert t == pytest.approx(TEMPERATURE_RANGE[1], rel=0.01)
    message = calibration_warning(t, 0.52)
    assert message is not None and "upper bound 20" in message and "AUC 0.520" in message
    informative = fit_temperature(labels, np.where(labels == 1, 2.0, -2.0) + noise / 3)
    assert calibration_warning(informative, 0.9) is None


def test_threshold_separates_validation() -> None:
    labels = np.array([0, 0, 0, 1, 1])
    probs = np.array([0.05, 0.1, 0.2, 0.3, 0.9])
    t = fit_threshold(labels, probs)
    assert 0.2 < t <= 0.3
    assert classification_metrics(labels, probs, t)["accuracy"] == 1.0


def test_plots_written(tmp_path: Path) -> None:
    labels = np.array([0, 1, 0, 1, 1])
    probs = np.array([0.2, 0.7, 0.4, 0.9, 0.3])
    roc = save_roc_plot(labels, probs, tmp_path / "roc.png", "ROC")
    rel = save_reliability_plot(labels, probs, tmp_path / "rel.png", "reliability")
    assert roc and rel
    assert roc.read_bytes()[:4] == b"\x89PNG" and rel.stat().st_size > 1000
    assert save_roc_plot(np.ones(3), np.ones(3), tmp_path / "x.png", "x") is None


def test_within_group_auc_compares_a_fake_with_its_own_source_only() -> None:
    # Person "a" always scores high, person "b" always low: plain AUC rewards that, but within
    # each group the fake sits below its real video.
    labels = [0, 1, 0, 1]
    scores = [0.9, 0.8, 0.2, 0.1]
    groups = ["a", "a", "b", "b"]
    assert within_group_auc(labels, scores, groups) == {"auc": 0.0, "pairs": 2, "groups": 2}
    assert within_group_auc(labels, [0.1, 0.8, 0.2, 0.2], groups)["auc"] == 0.75  # a tie: half
    lone = within_group_auc([0, 1, 1], [0.1, 0.9, 0.2], ["a", "b", "b"])
    assert lone == {"auc": None, "pairs": 0, "groups": 0}


def test_bootstrap_intervals_contain_the_figure_and_narrow_with_more_videos() -> None:
    rng = np.random.default_rng(3)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat([0, 1], n)
        probs = np.clip(0.5 + 0.25 * (labels - 0.5) + rng.normal(0, 0.2, 2 * n), 0.01, 0.99)
        return labels, probs

    small, large = draw(8), draw(200)
    ci_small = bootstrap_intervals(*small, 0.5, resamples=500)
    ci_large = bootstrap_intervals(*large, 0.5, resamples=500)
    for labels, probs, ci in ((*small, ci_small), (*large, ci_large)):
        m = classification_metrics(labels, probs, 0.5)
        for name in ("roc_auc", "accuracy", "log_loss"):
            low, high = ci[name]
            assert low <= m[name] <= high and low < high
    for name in ("roc_auc", "accuracy", "log_loss"):
        small_width = ci_small[name][1] - ci_small[name][0]
        assert ci_large[name][1] - ci_large[name][0] < small_width / 2
    assert bootstrap_intervals(*small, 0.5, resamples=500) == ci_small  # seeded: reproducible


def test_bootstrap_intervals_need_both_classes() -> None:
    ci = bootstrap_intervals(np.array([1, 1, 1]), np.array([0.2, 0.6, 0.9]), 0.5)
    assert ci["roc_auc"] is None and ci["accuracy"] is None and ci["resamples"] > 0
