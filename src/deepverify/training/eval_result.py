"""What an evaluation returns, typed: the contract between ``evaluate_items`` and its readers.

:func:`deepverify.training.evaluation.evaluate_items` builds an :class:`EvaluationResult`; the
``evaluate`` command prints it, :func:`~deepverify.training.evaluation.write_outputs` writes it as
``evaluation.json`` (its ``model_dump(mode="json")`` plus the plots written) and
:func:`~deepverify.training.evaluation.record_in_card` copies its headline into the model card.
The figures themselves (``video``, ``frame``, ``decisive``, ...) are the dicts of
:mod:`deepverify.training.metrics` and :mod:`deepverify.training.selective`, kept as they are.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

Figures = dict[str, Any]
"""Metrics as :mod:`deepverify.training.metrics` / :mod:`~deepverify.training.selective` give
them (JSON-ready: numbers, None, lists and dicts of them)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class VideoResult(_Frozen):
    """One evaluated video: its label and what ``scan`` said about it.

    Attributes:
        file: The file name.
        source: The source folder it came from.
        label: 1 fake, 0 real.
        manipulation: The fake's manipulation ("none" for real videos, "unknown" if not named).
        group: Source video or identity (pairs a fake with its real video).
        probability: The video's probability of "fake"; None when no face was found.
        verdict: FAKE, REAL or INCONCLUSIVE.
        decision: The plain two-class decision (None when no face).
        reasons: The reason codes of an INCONCLUSIVE verdict.
        tracks: Face tracks scored.
        track_probabilities: Each track's probability.
        track_face_px: Each track's median face size in pixels.
    """

    file: str
    source: str
    label: int
    manipulation: str
    group: str
    probability: float | None
    verdict: str
    decision: str | None
    reasons: tuple[str, ...]
    tracks: int
    track_probabilities: tuple[float, ...]
    track_face_px: tuple[float, ...]


class SkippedFile(_Frozen):
    """A file that could not be analysed (unreadable) and why."""

    file: str
    source: str
    reason: str


class EvaluatedModel(_Frozen):
    """The model as evaluated: its card's identity and operating point, the frames sampled."""

    model_id: str
    backbone: str
    threshold: float
    temperature: float
    frames: int


class Counts(_Frozen):
    """Videos given, scored (a face found), without a face, and unreadable."""

    items: int
    scored: int
    no_face: int
    failed: int


class SourceSummary(_Frozen):
    """The headline figures of one source folder."""

    videos: int
    scored: int
    video: Figures
    video_intervals: Figures
    decisive: Figures


class ManipulationRow(_Frozen):
    """One manipulation's videos ("none" for the real ones): what is caught and what is missed.

    Attributes:
        manipulation: Its name.
        videos: Videos of it.
        scored: Those with a probability.
        above_threshold: Those at or above the threshold (for reals: wrongly flagged).
        mean_probability: Mean probability of the scored ones (None when none is).
        roc_auc_vs_real: ROC AUC of its fakes against every scored real video.
        verdicts: Videos per verdict.
        files: Its file names.
    """

    manipulation: str
    videos: int
    scored: int
    above_threshold: int
    mean_probability: float | None
    roc_auc_vs_real: float | None
    verdicts: dict[str, int]
    files: tuple[str, ...]


class EvaluationResult(_Frozen):
    """Every figure of one evaluation, overall, per source folder and per manipulation.

    Attributes:
        model: The model evaluated.
        created: When (ISO 8601, UTC, seconds).
        counts: How many videos were given, scored, faceless and unreadable.
        video: Video-level classification metrics at the card's threshold.
        video_intervals: Bootstrap intervals of the video-level metrics.
        frame: Face-level (per sampled frame) classification metrics.
        decisive: Coverage and accuracy of the decisive verdicts (FAKE / REAL).
        risk_coverage: The risk-coverage curve.
        per_source: The headline figures of each source folder.
        per_manipulation: One row per manipulation.
        within_group: AUC of fakes against the real video of their own group.
        videos: Every video analysed.
        no_face: Files where no face was found.
        failed: Files that could not be analysed.
    """

    model: EvaluatedModel
    created: str
    counts: Counts
    video: Figures
    video_intervals: Figures
    frame: Figures
    decisive: Figures
    risk_coverage: Figures
    per_source: dict[str, SourceSummary]
    per_manipulation: tuple[ManipulationRow, ...]
    within_group: Figures
    videos: tuple[VideoResult, ...]
    no_face: tuple[str, ...]
    failed: tuple[SkippedFile, ...]


def verdict_rows(videos: tuple[VideoResult, ...] | list[VideoResult]) -> list[dict[str, Any]]:
    """The videos as the plain rows :func:`deepverify.training.selective.decisive_metrics` reads."""
    return [video.model_dump() for video in videos]
