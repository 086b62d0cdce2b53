"""Classification metrics, calibration (temperature and threshold) and evaluation plots.

Calibration is fitted on a validation split and stored in the model card; evaluation only ever
applies it. Scores are logits throughout; probabilities are ``sigmoid(logit / temperature)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn import metrics as skm

from deepverify.calibration import sigmoid

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_EPS = 1e-7


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, n_bins: int = 10) -> float:
    """ECE over ``n_bins`` equal-width bins of the predicted probability of "fake"."""
    labels, probs = np.asarray(labels, dtype=np.float64), np.asarray(probs, dtype=np.float64)
    if probs.size == 0:
        return float("nan")
    bins = np.minimum((probs * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(probs[sel].mean() - labels[sel].mean())
    return float(ece)


def within_group_auc(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    groups: Sequence[str],
) -> dict[str, Any]:
    """How often a fake scores above a real video of its own group (ties count half).

    Ordinary ROC AUC ranks every fake against every real, so a model that only tells one
    person or scene from another can score well on it. Here only (real, fake) pairs sharing a
    group — a fake and the video it was made from — are compared: 1.0 means every fake is
    scored above its own source, 0.5 that the model cannot tell them apart.

    Returns:
        ``{"auc": float | None, "pairs": int, "groups": int}``; ``auc`` is None without a pair.
    """
    by_group: dict[str, tuple[list[float], list[float]]] = {}
    for label, score, group in zip(labels, scores, groups, strict=True):
        by_group.setdefault(group, ([], []))[int(label)].append(float(score))
    wins = 0.0
    pairs = used = 0
    for real, fake in by_group.values():
        if real and fake:
            r, f = np.asarray(real)[:, None], np.asarray(fake)[None, :]
            wins += float((f > r).sum()) + 0.5 * float((f == r).sum())
            pairs += r.size * f.size
            used += 1
    return {"auc": wins / pairs if pairs else None, "pairs": pairs, "groups": used}


TEMPERATURE_RANGE = (0.05, 20.0)
"""Where :func:`fit_temperature` searches."""


def fit_temperature(labels: np.ndarray, logits: np.ndarray) -> float:
    """The temperature in :data:`TEMPERATURE_RANGE` minimising the log loss of sigmoid(logit/T)."""
    labels = np.asarray(labels, dtype=np.float64)
    logits = np.asarray(logits, dtype=np.float64)
    if labels.size == 0 or len(np.unique(labels)) < 2:
        return 1.0

    def nll(log_t: float) -> float:
        p = np.clip(sigmoid(logits / math.exp(log_t)), _EPS, 1 - _EPS)
        return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))

    low, high = TEMPERATURE_RANGE
    result = minimize_scalar(nll, bounds=(math.log(low), math.log(high)), method="bounded")
    return float(math.exp(result.x))


def calibration_warning(temperature: float, auc: float | None) -> str | None:
    """Why a fitted temperature should not be trusted, or None.

    A temperature at the top of :data:`TEMPERATURE_RANGE` means the calibration clips found
    (almost) no order in the logits: the fit flattens every probability towards the base rate,
    and the threshold then decides between nearly equal numbers.
    """
    if temperature < TEMPERATURE_RANGE[1] * 0.99:
        return None
    seen = "" if auc is None else f" (AUC {auc:.3f} there)"
    return (
        f"the temperature stopped at its upper bound {TEMPERATURE_RANGE[1]:g}: the calibration "
        f"clips barely separate real from fake{seen}, so the calibrated probabilities all sit "
        "near the base rate; do not ship this model without a better calibration split"
    )


def fit_threshold(labels: np.ndarray, probs: np.ndarray) -> float:
    """Threshold on the calibrated probability maximising balanced accuracy (Youden's J).

    Ties keep the threshold closest to 0.5, so a perfectly separated validation set does not
    push it to an extreme.
    """
    labels, probs = np.asarray(labels), np.asarray(probs, dtype=np.float64)
    if labels.size == 0 or len(np.unique(labels)) < 2:
        return 0.5
    fpr, tpr, thresholds = skm.roc_curve(labels, probs)
    j = tpr - fpr
    best = np.flatnonzero(np.isclose(j, j.max()))
    candidates = np.clip(thresholds[best], 0.0, 1.0)
    # Each ROC threshold is the lowest score still called positive; centre it in its gap.
    sorted_probs = np.unique(probs)
    centred = []
    for t in candidates:
        below = sorted_probs[sorted_probs < t]
        centred.append((t + below.max()) / 2 if below.size else t)
    arr = np.asarray(centred)
    return float(arr[np.argmin(np.abs(arr - 0.5))])


def classification_metrics(
    labels: Sequence[int] | np.ndarray,
    probs: Sequence[float] | np.ndarray,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Accuracy, F1, ROC AUC, average precision, log loss, ECE and the confusion matrix.

    Metrics that need both classes (AUC, AP) are None when only one is present.
    """
    y = np.asarray(labels, dtype=int)
    p = np.asarray(probs, dtype=np.float64)
    pred = (p >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    cm = skm.confusion_matrix(y, pred, labels=[0, 1]) if y.size else np.zeros((2, 2), int)
    return {
        "n": int(y.size),
        "n_fake": int(y.sum()),
        "threshold": float(threshold),
        "accuracy": float(skm.accuracy_score(y, pred)) if y.size else None,
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)) if both else None,
        "f1": float(skm.f1_score(y, pred, zero_division=0)) if y.size else None,
        "roc_auc": float(skm.roc_auc_score(y, p)) if both else None,
        "average_precision": float(skm.average_precision_score(y, p)) if both else None,
        "log_loss": float(skm.log_loss(y, np.clip(p, _EPS, 1 - _EPS), labels=[0, 1]))
        if y.size
        else None,
        "ece": expected_calibration_error(y, p) if y.size else None,
        "confusion_matrix": {
            "tn": int(cm[0, 0]),
            "fp": int(cm[0, 1]),
            "fn": int(cm[1, 0]),
            "tp": int(cm[1, 1]),
        },
    }


BOOTSTRAP_RESAMPLES = 2000


def bootstrap_intervals(
    labels: Sequence[int] | np.ndarray,
    probs: Sequence[float] | np.ndarray,
    threshold: float,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Percentile intervals of ROC AUC, accuracy and log loss over resampled videos.

    Each resample draws the fakes from the fakes and the reals from the reals, with replacement
    (a stratified bootstrap: the set's class balance is part of its design, and every resample
    then has both classes, so AUC is always defined; ``scipy.stats.bootstrap`` has no
    stratification). On a set of 17 videos the intervals are wide, and that is the point: they
    say how far a figure could move with other videos of the same kinds.

    Returns:
        ``{"roc_auc": [lo, hi], "accuracy": [lo, hi], "log_loss": [lo, hi], "level", "resamples",
        "method"}``; the intervals are None when a class is missing.
    """
    y = np.asarray(labels, dtype=int)
    p = np.asarray(probs, dtype=np.float64)
    record: dict[str, Any] = {
        "level": level,
        "resamples": resamples,
        "method": "stratified bootstrap over videos, percentile interval",
    }
    names = ("roc_auc", "accuracy", "log_loss")
    fakes, reals = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if not fakes.size or not reals.size:
        return record | dict.fromkeys(names)
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {name: [] for name in names}
    clipped = np.clip(p, _EPS, 1 - _EPS)
    for _ in range(resamples):
        pick = np.concatenate([rng.choice(fakes, fakes.size), rng.choice(reals, reals.size)])
        y_s, p_s = y[pick], clipped[pick]
        values["roc_auc"].append(float(skm.roc_auc_score(y_s, p_s)))
        values["accuracy"].append(float(skm.accuracy_score(y_s, p_s >= threshold)))
        values["log_loss"].append(float(skm.log_loss(y_s, p_s, labels=[0, 1])))
    tail = 100 * (1 - level) / 2
    for name in names:
        low, high = np.percentile(values[name], [tail, 100 - tail])
        record[name] = [round(float(low), 4), round(float(high), 4)]
    return record


@contextmanager
def square_plot(path: Path) -> Iterator[Axes]:
    """Square matplotlib axes (Agg backend), saved to ``path`` as PNG and closed on exit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=120)
    try:
        yield ax
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def save_roc_plot(labels: np.ndarray, probs: np.ndarray, path: Path, title: str) -> Path | None:
    """ROC curve as a PNG; None (nothing written) when only one class is present."""
    if len(np.unique(labels)) < 2:
        return None
    fpr, tpr, _ = skm.roc_curve(labels, probs)
    auc = skm.roc_auc_score(labels, probs)
    with square_plot(path) as ax:
        ax.plot(fpr, tpr, lw=2, label=f"AUC = {auc:.3f}")
        ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
        ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.legend(loc="lower right")
    return path


def save_reliability_plot(
    labels: np.ndarray, probs: np.ndarray, path: Path, title: str, n_bins: int = 10
) -> Path | None:
    """Reliability diagram (observed fake rate per probability bin) as a PNG."""
    if len(labels) == 0:
        return None
    from sklearn.calibration import calibration_curve

    frac, mean_pred = calibration_curve(labels, probs, n_bins=n_bins, strategy="uniform")
    with square_plot(path) as ax:
        ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="perfect calibration")
        ax.plot(mean_pred, frac, marker="o", lw=2, label="model")
        ax.hist(
            probs,
            bins=n_bins,
            range=(0, 1),
            alpha=0.2,
            density=False,
            weights=np.full(len(probs), 1 / len(probs)),
        )
        ax.set(xlabel="predicted probability of fake", ylabel="observed fraction fake", title=title)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.legend(loc="upper left")
    return path
