"""The decision layer: from face tracks' calibrated probabilities to a verdict a desk can act on.

Three verdicts, never a confident coin toss:

- ``FAKE``: substantial evidence of manipulation (the video's probability is at or above the
  upper edge of the uncertain band);
- ``REAL``: no evidence of manipulation found (below the lower edge);
- ``INCONCLUSIVE``: the score sits in the band, or the evidence cannot carry a verdict. Each
  reason is given: no face, faces too small to judge, too few frames with a face, very low face
  detection confidence, heavy compression, input unlike the training data, an untrained model.

A face track that fails an evidence gate (too small, low detection confidence, unlike the
training data) is shown with its reasons but does not decide the video; when no track passes,
the video is inconclusive. Faces far smaller than the largest one in view are left out of the
video's score (``aggregation``), so one small face among many does not decide a crowd scene.

The band and the out-of-distribution statistics are fitted on a model's calibration split
(:mod:`deepverify.training.decision_fit`) and stored in its card as a :class:`DecisionPolicy`;
a card without one keeps the plain threshold (no band) and the fixed gates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from deepverify.decision.policy import (
    AGGREGATIONS,
    DEFAULT_POLICY,
    Aggregation,
    DecisionPolicy,
    OODModel,
    ReasonCode,
    Verdict,
)

__all__ = [
    "AGGREGATIONS",
    "DEFAULT_POLICY",
    "Aggregation",
    "Decision",
    "DecisionPolicy",
    "OODModel",
    "Reason",
    "ReasonCode",
    "TrackDecision",
    "TrackEvidence",
    "Verdict",
    "aggregate",
    "bits_per_pixel",
    "coded_bits_per_pixel",
    "decide",
]


@dataclass(frozen=True)
class TrackEvidence:
    """What the decision needs of one scored face track.

    Attributes:
        track_id: The track's id in the report.
        probability: Calibrated probability of "fake" from the whole track.
        positions: Sampled-frame positions of its faces.
        frame_probabilities: Calibrated per-face probabilities, one per position.
        face_px: Face side (larger of width and height) per position, in pixels.
        detection_scores: Detector confidence per position.
        features: Mean backbone features over the track, for the out-of-distribution score.
    """

    track_id: int
    probability: float
    positions: tuple[int, ...]
    frame_probabilities: np.ndarray
    face_px: np.ndarray
    detection_scores: np.ndarray
    features: np.ndarray | None = None

    @property
    def median_face_px(self) -> float:
        """Median face side over the track."""
        return float(np.median(self.face_px))


@dataclass(frozen=True)
class Reason:
    """Why a track or a video is inconclusive: a stable code and a sentence for the reader."""

    code: ReasonCode
    message: str


@dataclass(frozen=True)
class TrackDecision:
    """One track's verdict and, when it is not judged, why."""

    track_id: int
    verdict: Verdict
    judged: bool
    reasons: tuple[Reason, ...]
    ood_score: float | None


@dataclass(frozen=True)
class Decision:
    """The video's verdict.

    Attributes:
        verdict: FAKE, REAL or INCONCLUSIVE.
        probability: The video's calibrated probability: the rule over the judged tracks (over
            every track when none is judged); ``None`` without a face.
        binary: The plain two-class decision at the card's threshold (``None`` without a face).
        reasons: Why the video is inconclusive (empty for FAKE and REAL).
        tracks: Per-track verdicts, in the evidence's order.
        band: The ``(low, high)`` edges the probability was compared with.
    """

    verdict: Verdict
    probability: float | None
    binary: Literal["REAL", "FAKE"] | None
    reasons: tuple[Reason, ...]
    tracks: tuple[TrackDecision, ...]
    band: tuple[float, float]


def _counted_tracks(
    tracks: Sequence[TrackEvidence], relative_face_size: float
) -> list[TrackEvidence]:
    """Tracks whose median face is at least ``relative_face_size`` of the largest one's."""
    largest = max(t.median_face_px for t in tracks)
    return [t for t in tracks if t.median_face_px >= relative_face_size * largest]


def _frame_rule(tracks: Sequence[TrackEvidence], relative_face_size: float) -> float:
    """SBI's video score, on the per-face probabilities.

    Per frame, the most suspicious of the faces at least ``relative_face_size`` of that frame's
    largest; then the mean over frames.
    """
    per_frame: dict[int, list[tuple[float, float]]] = {}
    for t in tracks:
        for pos, px, prob in zip(t.positions, t.face_px, t.frame_probabilities, strict=True):
            per_frame.setdefault(pos, []).append((float(px), float(prob)))
    scores = []
    for faces in per_frame.values():
        largest = max(px for px, _ in faces)
        scores.append(max(p for px, p in faces if px >= relative_face_size * largest))
    return float(np.mean(scores))


def aggregate(
    tracks: Sequence[TrackEvidence],
    rule: Aggregation,
    *,
    relative_face_size: float = DEFAULT_POLICY.relative_face_size,
) -> float:
    """The video's probability from its tracks.

    - ``max``: the most suspicious track (one manipulated face makes the video manipulated);
    - ``largest``: the most suspicious of the tracks whose median face is at least
      ``relative_face_size`` of the largest track's;
    - ``largest_frames``: SBI's rule on the per-face probabilities (see :func:`_frame_rule`).

    Raises:
        ValueError: No track, or an unknown rule.
    """
    if not tracks:
        raise ValueError("a video score needs at least one track")
    if rule == "max":
        return max(t.probability for t in tracks)
    if rule == "largest":
        return max(t.probability for t in _counted_tracks(tracks, relative_face_size))
    if rule == "largest_frames":
        return _frame_rule(tracks, relative_face_size)
    raise ValueError(f"unknown aggregation {rule!r}; valid: {', '.join(AGGREGATIONS)}")


def _track_reasons(
    track: TrackEvidence, policy: DecisionPolicy
) -> tuple[tuple[Reason, ...], float | None]:
    reasons = []
    if track.median_face_px < policy.min_face_px:
        reasons.append(
            Reason(
                "small_faces",
                f"face {track.track_id} is too small to judge ({track.median_face_px:.0f} px; "
                f"the model needs at least {policy.min_face_px:.0f} px)",
            )
        )
    confidence = float(np.median(track.detection_scores))
    if confidence < policy.min_detection_score:
        reasons.append(
            Reason(
                "low_detection_confidence",
                f"face {track.track_id} was found with low confidence ({confidence:.2f}; at "
                f"least {policy.min_detection_score:.2f} is needed): it may not be a face",
            )
        )
    ood_score = None
    if policy.ood is not None and track.features is not None:
        ood_score = policy.ood.distance(track.features)
        if ood_score > policy.ood.threshold:
            reasons.append(
                Reason(
                    "out_of_distribution",
                    f"face {track.track_id} looks unlike the training data (distance "
                    f"{ood_score:.2f}, limit {policy.ood.threshold:.2f})",
                )
            )
    return tuple(reasons), ood_score


def _band_verdict(probability: float, band: tuple[float, float]) -> Verdict:
    low, high = band
    if probability >= high:
        return "FAKE"
    return "REAL" if probability < low else "INCONCLUSIVE"


def _video_reasons(
    judged: Sequence[TrackEvidence],
    policy: DecisionPolicy,
    *,
    sampled_frames: int,
    bits_per_pixel: float | None,
) -> list[Reason]:
    reasons = []
    with_face = len({pos for t in judged for pos in t.positions})
    share = with_face / max(sampled_frames, 1)
    if judged and share < policy.min_face_frames:  # (no judged face at all has its reasons)
        reasons.append(
            Reason(
                "few_face_frames",
                f"a face that can be judged is in only {with_face} of {sampled_frames} sampled "
                f"frames ({share:.0%}; at least {policy.min_face_frames:.0%} is needed)",
            )
        )
    if bits_per_pixel is not None and bits_per_pixel < policy.min_bits_per_pixel:
        reasons.append(
            Reason(
                "heavy_compression",
                f"the video is heavily compressed ({bits_per_pixel:.4f} bits per pixel; below "
                f"{policy.min_bits_per_pixel:.4f} manipulation traces are lost)",
            )
        )
    return reasons


def decide(
    tracks: Sequence[TrackEvidence],
    *,
    threshold: float,
    policy: DecisionPolicy = DEFAULT_POLICY,
    sampled_frames: int,
    bits_per_pixel: float | None = None,
    trained: bool = True,
) -> Decision:
    """The verdict of one video from its scored tracks.

    Args:
        tracks: The scored face tracks (may be empty).
        threshold: The card's calibrated threshold (the two-class decision).
        policy: Band, rule and gates (the card's, or the defaults).
        sampled_frames: How many frames were sampled.
        bits_per_pixel: The video's coded size per decoded pixel (``None``: unknown).
        trained: False for an untrained model: always inconclusive.
    """
    band = policy.edges(threshold)
    if not tracks:
        reason = Reason("no_face", "no face was found in the sampled frames")
        return Decision("INCONCLUSIVE", None, None, (reason,), (), band)
    track_decisions = []
    judged = []
    for track in tracks:
        reasons, ood_score = _track_reasons(track, policy)
        decisive = trained and not reasons  # an untrained model's faces get no verdict either
        verdict = _band_verdict(track.probability, band) if decisive else "INCONCLUSIVE"
        track_decisions.append(
            TrackDecision(track.track_id, verdict, not reasons, reasons, ood_score)
        )
        if not reasons:
            judged.append(track)
    counted = judged or list(tracks)
    kwargs = {"relative_face_size": policy.relative_face_size}
    probability = aggregate(counted, policy.aggregation, **kwargs)
    binary: Literal["REAL", "FAKE"] = "FAKE" if probability >= threshold else "REAL"
    video_reasons: list[Reason] = []
    if not trained:
        video_reasons.append(Reason("untrained_model", "the model is untrained"))
    if not judged:
        video_reasons.extend(_unjudged_reasons(tracks, track_decisions, policy))
    video_reasons += _video_reasons(
        judged, policy, sampled_frames=sampled_frames, bits_per_pixel=bits_per_pixel
    )
    if video_reasons:
        verdict = "INCONCLUSIVE"
    else:
        verdict = _band_verdict(probability, band)
        if verdict == "INCONCLUSIVE":
            video_reasons.append(Reason("uncertain_score", _uncertain(probability, band)))
    return Decision(
        verdict, probability, binary, tuple(_unique(video_reasons)), tuple(track_decisions), band
    )


def _uncertain(probability: float, band: tuple[float, float]) -> str:
    """Why a probability inside the band gives no verdict (a band may be open on one side)."""
    low, high = band
    pct = f"the probability ({probability:.0%})"
    if high >= 1.0 and low > 0.0:
        return (
            f"{pct} is at or above {low:.0%}, where this model gives no verdict: on its held-out "
            "calibration videos no range of scores above it was reliably fake"
        )
    if low <= 0.0 and high < 1.0:
        return (
            f"{pct} is below {high:.0%}, where this model gives no verdict: on its held-out "
            "calibration videos no range of scores below it was reliably real"
        )
    return (
        f"{pct} is in the uncertain band {low:.0%}-{high:.0%}, where verdicts were not "
        "reliable on held-out calibration videos"
    )


def _unjudged_reasons(
    tracks: Sequence[TrackEvidence], decisions: Sequence[TrackDecision], policy: DecisionPolicy
) -> list[Reason]:
    """Why no face could be judged, said once per reason for all the faces."""
    codes = {r.code for d in decisions for r in d.reasons}
    one = len(tracks) == 1
    every = "both faces" if len(tracks) == 2 else f"all {len(tracks)} faces"
    faces, are, were = ("the face", "is", "was") if one else (every, "are", "were")
    reasons = []
    if "small_faces" in codes:
        largest = max(t.median_face_px for t in tracks)
        reasons.append(
            Reason(
                "small_faces",
                f"{faces} {are} too small to judge (the largest is {largest:.0f} px; the model "
                f"needs at least {policy.min_face_px:.0f} px)",
            )
        )
    if "low_detection_confidence" in codes:
        best = max(float(np.median(t.detection_scores)) for t in tracks)
        reasons.append(
            Reason(
                "low_detection_confidence",
                f"{faces} {were} found with low confidence (best {best:.2f}; at least "
                f"{policy.min_detection_score:.2f} is needed): "
                f"{'it' if one else 'they'} may not be faces",
            )
        )
    if "out_of_distribution" in codes:
        reasons.append(Reason("out_of_distribution", f"{faces} look unlike the training data"))
    return reasons


def _unique(reasons: Sequence[Reason]) -> list[Reason]:
    """One reason per code: the first message of each (e.g. one "small faces" for a crowd)."""
    seen: dict[str, Reason] = {}
    for reason in reasons:
        seen.setdefault(reason.code, reason)
    return list(seen.values())


def bits_per_pixel(file_bytes: int, width: int, height: int, frame_count: int) -> float | None:
    """The file's bits per decoded pixel (container and audio included: an upper bound)."""
    return coded_bits_per_pixel(file_bytes, width * height * frame_count)


def coded_bits_per_pixel(coded_bytes: int, pixels: int) -> float | None:
    """Bits per pixel of ``coded_bytes`` that decoded to ``pixels`` pixels (None: no pixels).

    What the heavy-compression gate compares with ``min_bits_per_pixel``: a file's size over
    its frames' pixels (:func:`bits_per_pixel`), or a live stream's video packets over the
    pixels decoded from them.
    """
    return coded_bytes * 8 / pixels if pixels > 0 else None
