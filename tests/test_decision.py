"""The decision layer: band, video-score rules and evidence gates, each with a planted signal."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from deepverify.decision import (
    DecisionPolicy,
    OODModel,
    TrackEvidence,
    aggregate,
    bits_per_pixel,
    decide,
)
from deepverify.model import ModelCard

FRAMES = 16


def _track(
    track_id: int,
    probability: float,
    *,
    px: float = 120.0,
    positions: range = range(FRAMES),
    score: float = 0.95,
    frame_probability: float | None = None,
    features: np.ndarray | None = None,
) -> TrackEvidence:
    n = len(positions)
    per_frame = probability if frame_probability is None else frame_probability
    return TrackEvidence(
        track_id=track_id,
        probability=probability,
        positions=tuple(positions),
        frame_probabilities=np.full(n, per_frame),
        face_px=np.full(n, px),
        detection_scores=np.full(n, score),
        features=features,
    )


BAND = DecisionPolicy(band=(0.3, 0.7))


@pytest.mark.parametrize(
    ("probability", "verdict"), [(0.1, "REAL"), (0.29, "REAL"), (0.3, "INCONCLUSIVE"),
                                 (0.69, "INCONCLUSIVE"), (0.7, "FAKE"), (0.95, "FAKE")],
)  # fmt: skip
def test_band_edges(probability, verdict):
    decision = decide([_track(0, probability)], threshold=0.5, policy=BAND, sampled_frames=FRAMES)
    assert decision.verdict == verdict
    assert decision.binary == ("FAKE" if probability >= 0.5 else "REAL")
    codes = [r.code for r in decision.reasons]
    assert codes == (["uncertain_score"] if verdict == "INCONCLUSIVE" else [])


def test_a_band_open_on_one_side_says_the_model_gives_no_verdict_there():
    no_fake = DecisionPolicy(band=(0.4, 1.0))
    decision = decide([_track(0, 0.8)], threshold=0.5, policy=no_fake, sampled_frames=FRAMES)
    assert decision.verdict == "INCONCLUSIVE"
    assert "at or above 40%, where this model gives no verdict" in decision.reasons[0].message
    middle = decide([_track(0, 0.5)], threshold=0.5, policy=BAND, sampled_frames=FRAMES)
    assert "in the uncertain band 30%-70%" in middle.reasons[0].message


def test_without_a_band_the_threshold_decides():
    policy = DecisionPolicy(band=None)
    for probability, verdict in ((0.49, "REAL"), (0.5, "FAKE")):
        decision = decide([_track(0, probability)], threshold=0.5, policy=policy,
                          sampled_frames=FRAMES)  # fmt: skip
        assert decision.verdict == verdict and decision.band == (0.5, 0.5)


def test_no_face_and_untrained_are_inconclusive():
    none = decide([], threshold=0.5, policy=BAND, sampled_frames=FRAMES)
    assert (none.verdict, none.probability, none.binary) == ("INCONCLUSIVE", None, None)
    assert [r.code for r in none.reasons] == ["no_face"]
    untrained = decide([_track(0, 0.99)], threshold=0.5, policy=BAND, sampled_frames=FRAMES,
                       trained=False)  # fmt: skip
    assert untrained.verdict == "INCONCLUSIVE" and untrained.binary == "FAKE"
    assert untrained.tracks[0].verdict == "INCONCLUSIVE"
    assert [r.code for r in untrained.reasons] == ["untrained_model"]


def test_small_faces_in_a_crowd_do_not_decide_the_video():
    # One large real face and five small ones, one of which scores high.
    crowd = [_track(0, 0.05, px=200.0)] + [
        _track(k, 0.9 if k == 3 else 0.1, px=60.0) for k in range(1, 6)
    ]
    assert aggregate(crowd, "max") == 0.9
    assert aggregate(crowd, "largest") == 0.05
    decision = decide(crowd, threshold=0.5, policy=BAND, sampled_frames=FRAMES)
    assert decision.verdict == "REAL" and decision.probability == 0.05
    # With the old rule the same crowd is called FAKE.
    old = decide(crowd, threshold=0.5, policy=BAND.model_copy(update={"aggregation": "max"}),
                 sampled_frames=FRAMES)  # fmt: skip
    assert old.verdict == "FAKE"


def test_largest_frames_takes_the_worst_large_face_per_frame_then_the_mean():
    a = _track(0, 0.5, px=100.0, positions=range(0, 4), frame_probability=0.8)
    b = _track(1, 0.5, px=90.0, positions=range(2, 6), frame_probability=0.2)
    tiny = _track(2, 0.5, px=20.0, positions=range(0, 6), frame_probability=1.0)
    # Frames 0-3: a (0.8); frames 4-5: b (0.2); the tiny face never counts.
    assert aggregate([a, b, tiny], "largest_frames") == pytest.approx((4 * 0.8 + 2 * 0.2) / 6)


def test_gates_make_a_track_inconclusive_and_name_the_reason():
    cases = {
        "small_faces": _track(0, 0.95, px=24.0),
        "low_detection_confidence": _track(0, 0.95, score=0.3),
    }
    for code, track in cases.items():
        decision = decide([track], threshold=0.5, policy=BAND, sampled_frames=FRAMES)
        assert decision.verdict == "INCONCLUSIVE", code
        assert code in [r.code for r in decision.reasons]
        assert decision.tracks[0].verdict == "INCONCLUSIVE" and not decision.tracks[0].judged
        assert decision.binary == "FAKE"  # the two-class decision stays


def test_a_gated_track_beside_a_judged_one_does_not_decide():
    judged = _track(0, 0.1, px=150.0)
    doubtful = _track(1, 0.99, px=140.0, score=0.2)  # large but barely a face
    decision = decide([judged, doubtful], threshold=0.5, policy=BAND, sampled_frames=FRAMES)
    assert decision.verdict == "REAL" and decision.probability == 0.1
    assert [t.verdict for t in decision.tracks] == ["REAL", "INCONCLUSIVE"]


def test_few_face_frames_and_heavy_compression_are_inconclusive():
    brief = _track(0, 0.95, positions=range(3))
    few = decide([brief], threshold=0.5, policy=BAND, sampled_frames=FRAMES)
    assert few.verdict == "INCONCLUSIVE" and [r.code for r in few.reasons] == ["few_face_frames"]
    squeezed = decide([_track(0, 0.95)], threshold=0.5, policy=BAND, sampled_frames=FRAMES,
                      bits_per_pixel=0.001)  # fmt: skip
    assert [r.code for r in squeezed.reasons] == ["heavy_compression"]
    fine = decide([_track(0, 0.95)], threshold=0.5, policy=BAND, sampled_frames=FRAMES,
                  bits_per_pixel=0.05)  # fmt: skip
    assert fine.verdict == "FAKE"


def test_out_of_distribution_tracks_are_not_judged():
    ood = OODModel(mean=(0.0, 0.0, 0.0, 0.0), scale=(1.0, 1.0, 1.0, 1.0), threshold=2.0)
    policy = BAND.model_copy(update={"ood": ood})
    near = _track(0, 0.95, features=np.array([1.0, -1.0, 0.5, 0.0]))
    far = _track(0, 0.95, features=np.array([5.0, -5.0, 4.0, 3.0]))
    assert ood.distance(near.features) == pytest.approx(np.sqrt((1 + 1 + 0.25) / 4))
    assert decide([near], threshold=0.5, policy=policy, sampled_frames=FRAMES).verdict == "FAKE"
    decision = decide([far], threshold=0.5, policy=policy, sampled_frames=FRAMES)
    assert decision.verdict == "INCONCLUSIVE"
    assert [r.code for r in decision.reasons] == ["out_of_distribution"]
    assert decision.tracks[0].ood_score == pytest.approx(ood.distance(far.features))
    with pytest.raises(ValueError, match="ood needs 4 features"):
        ood.distance(np.zeros(3))


def test_one_reason_per_code_for_many_small_faces():
    crowd = [_track(k, 0.2, px=20.0) for k in range(5)]
    decision = decide(crowd, threshold=0.5, policy=BAND, sampled_frames=FRAMES)
    assert [r.code for r in decision.reasons] == ["small_faces"]
    assert decision.reasons[0].message.startswith("all 5 faces are too small to judge (")


def test_policy_refuses_a_band_out_of_order():
    with pytest.raises(ValidationError, match="low <= high"):
        DecisionPolicy(band=(0.8, 0.2))
    with pytest.raises(ValidationError, match="same, non-zero length"):
        OODModel(mean=(0.0,), scale=(1.0, 1.0), threshold=1.0)


def test_card_keeps_its_policy_and_old_cards_get_none(tmp_path):
    policy = DecisionPolicy(band=(0.2, 0.8), target_precision=0.9, aggregation="max")
    card = ModelCard(backbone="efficientnet_lite0", decision=policy, trained=True)
    again = ModelCard.from_json(card.to_json())
    assert again.decision == policy and again.policy.band == (0.2, 0.8)
    old = json.loads(card.to_json())
    old["schema_version"] = 2
    del old["decision"]
    assert ModelCard.from_dict(old).decision is None
    assert ModelCard.from_dict(old).policy == DecisionPolicy()


def test_bits_per_pixel():
    assert bits_per_pixel(1000, 10, 10, 8) == pytest.approx(10.0)
    assert bits_per_pixel(1000, 0, 10, 8) is None
