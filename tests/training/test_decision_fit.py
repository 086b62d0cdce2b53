"""Fitting a decision policy: band, video-score rule and OOD gate, from planted evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepverify.decision import DecisionPolicy, TrackEvidence
from deepverify.errors import DatasetError
from deepverify.training.decision_fit import (
    VideoEvidence,
    choose_aggregation,
    fit_band,
    fit_ood,
    fit_policy,
)
from deepverify.training.items import VideoItem

FRAMES = 8


def _track(track_id: int, probability: float, px: float = 150.0, features=None) -> TrackEvidence:
    return TrackEvidence(
        track_id=track_id,
        probability=probability,
        positions=tuple(range(FRAMES)),
        frame_probabilities=np.full(FRAMES, probability),
        face_px=np.full(FRAMES, px),
        detection_scores=np.full(FRAMES, 0.9),
        features=np.zeros(4) if features is None else np.asarray(features, dtype=np.float64),
    )


def _video(name: str, label: int, *tracks: TrackEvidence) -> VideoEvidence:
    item = VideoItem(path=Path(f"{name}.mp4"), label=label, group=name, item_id=name)
    return VideoEvidence(item=item, tracks=list(tracks), sampled_frames=FRAMES, bits_per_pixel=0.1)


def test_fit_band_keeps_the_regions_where_verdicts_reach_the_precision():
    # Reals at 0.05-0.25, fakes at 0.75-0.95, and a mixed middle (0.4-0.6) where half are wrong:
    # the six lowest are real (0.4 too), the five highest fake; 0.6 is a real above 0.55.
    real = [0.05, 0.1, 0.15, 0.2, 0.25, 0.4, 0.6]
    fake = [0.75, 0.8, 0.85, 0.9, 0.95, 0.45, 0.55]
    labels = np.array([0] * len(real) + [1] * len(fake))
    probs = np.array(real + fake)
    (low, high), stats = fit_band(labels, probs, threshold=0.5, target=0.9)
    assert (low, high) == (0.425, 0.675)
    assert stats["called_real"] == 6 and stats["called_fake"] == 5
    assert stats["precision_real"] == 1.0 and stats["precision_fake"] == 1.0
    assert stats["coverage"] == pytest.approx(11 / 14, abs=1e-4)
    # A looser target lets the middle in on each side, up to the threshold.
    (low2, high2), _ = fit_band(labels, probs, threshold=0.5, target=0.75)
    assert low2 > low and high2 < high and low2 <= 0.5 <= high2


def test_fit_band_gives_no_decisive_region_a_side_cannot_earn():
    # Everything below the threshold is a coin toss: no REAL verdict at 90 %.
    labels = np.array([0, 1] * 5 + [1] * 6)
    probs = np.array([0.1, 0.12, 0.2, 0.22, 0.3, 0.32, 0.35, 0.36, 0.4, 0.41] + [0.8] * 6)
    (low, high), stats = fit_band(labels, probs, threshold=0.5, target=0.9)
    assert low == 0.0 and stats["called_real"] == 0
    assert high <= 0.8 and stats["called_fake"] == 6


def test_choose_aggregation_measures_each_rule_on_val():
    # Reals with a small, high-scoring background face: "max" ranks them above the fakes.
    val = [_video(f"r{k}", 0, _track(0, 0.1, 200.0), _track(1, 0.95, 50.0)) for k in range(4)]
    val += [_video(f"f{k}", 1, _track(0, 0.7, 200.0)) for k in range(4)]
    rule, aucs = choose_aggregation(val, DecisionPolicy(), threshold=0.5)
    assert aucs["max"] == 0.0 and aucs["largest"] == 1.0
    assert rule == "largest"


def test_fit_ood_flags_what_is_far_from_the_training_reals():
    rng = np.random.default_rng(0)
    train = [_video(f"t{k}", 0, _track(0, 0.1, features=rng.normal(0, 1, 4))) for k in range(50)]
    held = [_video(f"h{k}", 0, _track(0, 0.1, features=rng.normal(0, 1, 4))) for k in range(50)]
    ood = fit_ood(train, held, quantile=0.9)
    near = [ood.distance(v.tracks[0].features) <= ood.threshold for v in held]
    assert 0.85 <= np.mean(near) <= 0.95  # the quantile, on the held-out tracks
    assert ood.distance(np.full(4, 8.0)) > ood.threshold
    with pytest.raises(DatasetError, match="training and held-out faces"):
        fit_ood([], held)


def test_fit_policy_records_what_it_fitted():
    rng = np.random.default_rng(1)

    def videos(prefix: str, n: int) -> list[VideoEvidence]:
        out = []
        for k in range(n):
            label = k % 2
            p = float(np.clip(0.2 + 0.6 * label + rng.normal(0, 0.08), 0.01, 0.99))
            out.append(_video(f"{prefix}{k}", label, _track(0, p, features=rng.normal(0, 1, 4))))
        return out

    policy = fit_policy(
        val=videos("v", 20), calib=videos("c", 30), train_real=videos("t", 20)[::2],
        threshold=0.5, target_precision=0.9,
    )  # fmt: skip
    assert policy.band is not None and policy.band[0] <= 0.5 <= policy.band[1]
    assert policy.ood is not None and policy.target_precision == 0.9
    assert policy.fitted["calib_videos"] == 30 and set(policy.fitted["aggregation_val_auc"]) == {
        "max", "largest", "largest_frames",
    }  # fmt: skip
    assert policy.fitted["calib"]["precision_real"] >= 0.9
    assert policy.fitted["aggregation_chosen"] == "best on val"
    given = fit_policy(
        val=videos("v", 20), calib=videos("c", 30), train_real=videos("t", 20)[::2],
        threshold=0.5, aggregation="largest_frames",
    )  # fmt: skip
    assert given.aggregation == "largest_frames"
    assert given.fitted["aggregation_chosen"] == "given"
    assert set(given.fitted["aggregation_val_auc"]) == {"max", "largest", "largest_frames"}
