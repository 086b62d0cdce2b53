"""Fit a model's decision policy on its own held-out splits, through the scan pipeline.

Videos are scored exactly as ``scan`` scores them (:func:`deepverify.pipeline.score_video`), then:

1. **The video-score rule** (:data:`deepverify.decision.AGGREGATIONS`) with the best ROC AUC on
   the validation split (the split that chose the epoch), ties to the earlier rule.
2. **The out-of-distribution statistics**: mean and spread of the face tracks' backbone
   features over training-split real videos; the limit is a high quantile of the distances of
   the held-out (validation and calibration) tracks, so that few faces like the training data
   are flagged.
3. **The uncertain band** on the calibration split: the widest REAL and FAKE regions whose
   verdicts reach ``target_precision`` there (videos that an evidence gate already makes
   inconclusive do not count). A side that cannot reach it gets no decisive region at all.

Evaluation folders are never involved: the splits come from the training caches and config.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepverify.decision import (
    AGGREGATIONS,
    Aggregation,
    Decision,
    DecisionPolicy,
    OODModel,
    TrackEvidence,
    decide,
)
from deepverify.engine import Engine
from deepverify.errors import DatasetError, DeepverifyError, ModelError
from deepverify.faces import FaceDetector
from deepverify.files import atomic_write_text
from deepverify.model import ModelCard, card_path
from deepverify.pipeline import score_video
from deepverify.report.builder import track_evidence
from deepverify.training.items import VideoItem
from deepverify.training.metrics import classification_metrics

logger = logging.getLogger(__name__)

FitProgress = Callable[[str, int, int], None]
"""(split, videos done, videos in the split)."""

MIN_DECIDED = 5
"""A decisive region must hold at least this many calibration videos to be trusted."""


@dataclass(frozen=True)
class VideoEvidence:
    """One scored video of a split: its label and what the decision reads."""

    item: VideoItem
    tracks: list[TrackEvidence]
    sampled_frames: int
    bits_per_pixel: float | None


def collect_evidence(
    items: Sequence[VideoItem],
    *,
    split: str,
    model: Engine,
    detector: FaceDetector,
    num_frames: int | None = None,
    progress: FitProgress | None = None,
) -> list[VideoEvidence]:
    """Score each video (photos are skipped) and keep its tracks' evidence.

    Raises:
        DatasetError: A video named by the cache is missing (caches record paths as given to
            ``extract``: run from the same folder).
    """
    videos = [item for item in items if not item.is_image]
    out = []
    for k, item in enumerate(videos, 1):
        if not item.path.is_file():
            raise DatasetError(
                f"{item.path} (named by the cache) does not exist; run from the folder the "
                "caches were extracted in"
            )
        try:
            video = score_video(
                item.path, model=model, detector=detector, num_frames=num_frames, digest=False
            )
        except DeepverifyError as exc:
            logger.warning("skipped %s: %s", item.path, exc)
        else:
            out.append(
                VideoEvidence(
                    item=item,
                    tracks=[
                        track_evidence(t, s)
                        for t, s in zip(video.tracks, video.scored, strict=True)
                    ],
                    sampled_frames=len(video.frames),
                    bits_per_pixel=video.bits_per_pixel,
                )
            )
        if progress:
            progress(split, k, len(videos))
    return out


def decide_all(
    videos: Sequence[VideoEvidence],
    policy: DecisionPolicy,
    threshold: float,
    *,
    trained: bool = True,
) -> list[Decision]:
    """Each video's decision under ``policy``, as ``scan`` would decide it."""
    return [
        decide(
            v.tracks,
            threshold=threshold,
            policy=policy,
            sampled_frames=v.sampled_frames,
            bits_per_pixel=v.bits_per_pixel,
            trained=trained,
        )
        for v in videos
    ]


def choose_aggregation(
    val: Sequence[VideoEvidence], policy: DecisionPolicy, threshold: float
) -> tuple[Aggregation, dict[str, float | None]]:
    """The rule with the best validation ROC AUC (ties to the earlier rule), and every AUC."""
    scored = [v for v in val if v.tracks]
    labels = np.array([v.item.label for v in scored])
    aucs: dict[str, float | None] = {}
    for rule in AGGREGATIONS:
        decisions = decide_all(scored, policy.model_copy(update={"aggregation": rule}), threshold)
        probs = np.array([d.probability for d in decisions], dtype=np.float64)
        aucs[rule] = classification_metrics(labels, probs)["roc_auc"]
    best = max(AGGREGATIONS, key=lambda rule: aucs[rule] or 0.0)  # max keeps the first of ties
    return best, aucs


def fit_ood(
    train_real: Sequence[VideoEvidence],
    held_out: Sequence[VideoEvidence],
    *,
    quantile: float = 0.99,
) -> OODModel:
    """Feature statistics of the training reals; the limit at ``quantile`` of held-out tracks.

    Raises:
        DatasetError: No training-split real track, or no held-out track.
    """
    train = [t.features for v in train_real for t in v.tracks if t.features is not None]
    if not train or not any(v.tracks for v in held_out):
        raise DatasetError("fitting the out-of-distribution gate needs training and held-out faces")
    features = np.stack(train).astype(np.float64)
    mean = features.mean(axis=0)
    spread = features.std(axis=0)
    scale = np.maximum(spread, 0.1 * float(np.median(spread)) + 1e-6)
    # Five significant digits: the card stays small (about 25 kB for 1280 features).
    probe = OODModel(mean=_rounded(mean), scale=_rounded(scale), threshold=1.0)
    distances = [
        probe.distance(t.features) for v in held_out for t in v.tracks if t.features is not None
    ]
    limit = float(np.quantile(distances, quantile))
    return probe.model_copy(update={"threshold": round(limit, 4)})


def _rounded(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(f"{v:.5g}") for v in values.tolist())


def fit_band(
    labels: np.ndarray, probs: np.ndarray, threshold: float, target: float
) -> tuple[tuple[float, float], dict[str, Any]]:
    """The widest REAL region below and FAKE region above ``threshold`` at ``target`` precision.

    Returns:
        ``(low, high)`` and what it gives on these videos (counts, precision, coverage).
    """
    order = np.argsort(probs, kind="stable")
    p, y = probs[order], labels[order]
    low = 0.0
    for k in range(MIN_DECIDED, p.size + 1):  # the k lowest are called REAL
        edge = threshold if k == p.size else min(threshold, (p[k - 1] + p[k]) / 2)
        if p[k - 1] >= threshold:
            break
        if np.mean(y[:k] == 0) >= target:
            low = float(edge)
    high = 1.0
    for k in range(MIN_DECIDED, p.size + 1):  # the k highest are called FAKE
        edge = threshold if k == p.size else max(threshold, (p[-k] + p[-k - 1]) / 2)
        if p[-k] < threshold:
            break
        if np.mean(y[-k:] == 1) >= target:
            high = float(edge)
    real, fake = probs < low, probs >= high
    stats = {
        "videos": int(probs.size),
        "called_real": int(real.sum()),
        "called_fake": int(fake.sum()),
        "precision_real": _share(labels[real] == 0),
        "precision_fake": _share(labels[fake] == 1),
        "coverage": round(float((real | fake).mean()), 4) if probs.size else None,
    }
    return (round(low, 4), round(high, 4)), stats


def _share(hits: np.ndarray) -> float | None:
    return round(float(hits.mean()), 4) if hits.size else None


def fit_policy(
    *,
    val: Sequence[VideoEvidence],
    calib: Sequence[VideoEvidence],
    train_real: Sequence[VideoEvidence],
    threshold: float,
    target_precision: float = 0.9,
    ood_quantile: float = 0.99,
    base: DecisionPolicy | None = None,
    aggregation: Aggregation | None = None,
) -> DecisionPolicy:
    """The decision policy of a model: rule on val, OOD on train reals, band on calib.

    ``aggregation`` fixes the video-score rule instead of taking the best on val (every rule's
    val AUC is still recorded), e.g. to keep one small face among many from deciding alone when
    ``max`` wins on val by less than the noise.
    """
    policy = base or DecisionPolicy()
    rule, aucs = choose_aggregation(val, policy, threshold)
    rule = aggregation or rule
    ood = fit_ood(train_real, [*val, *calib], quantile=ood_quantile)
    policy = policy.model_copy(update={"aggregation": rule, "ood": ood, "band": None})
    decisions = decide_all(calib, policy, threshold)
    # Videos a gate makes inconclusive stay so whatever the band: fit it on the others.
    kept = [(v, d) for v, d in zip(calib, decisions, strict=True) if d.verdict != "INCONCLUSIVE"]
    labels = np.array([v.item.label for v, _ in kept], dtype=int)
    probs = np.array([d.probability for _, d in kept], dtype=np.float64)
    band, stats = fit_band(labels, probs, threshold, target_precision)
    fitted = {
        "aggregation_val_auc": aucs,
        "aggregation_chosen": "given" if aggregation else "best on val",
        "val_videos": len(val),
        "calib_videos": len(calib),
        "calib_gated": len(calib) - len(kept),
        "calib": stats,
        "ood_train_real_tracks": sum(len(v.tracks) for v in train_real),
        "ood_quantile": ood_quantile,
    }
    return policy.model_copy(
        update={"band": band, "target_precision": target_precision, "fitted": fitted}
    )


def write_policy(checkpoint: Path, policy: DecisionPolicy) -> ModelCard:
    """Store ``policy`` in the card beside ``checkpoint`` (the weights are untouched)."""
    path = card_path(checkpoint)
    card = ModelCard.read(path).replace(decision=policy)
    try:
        atomic_write_text(path, card.to_json())
    except OSError as exc:
        raise ModelError(f"cannot update model card {path}: {exc}") from exc
    return card
