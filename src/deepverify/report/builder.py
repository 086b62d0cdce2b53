"""Assemble a :class:`~deepverify.report.schema.Report` from what the pipeline stages measured.

Pure: no files are read or written here. The verdict comes from :func:`deepverify.decision.decide`
with the card's decision policy (band, video-score rule and evidence gates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import numpy as np

from deepverify.decision import TrackEvidence, decide
from deepverify.faces.tracks import Track
from deepverify.report.schema import (
    FaceObservation,
    FrameResult,
    ModelInfo,
    ReasonInfo,
    Report,
    TrackResult,
    VideoMeta,
    explain_verdict,
)

if TYPE_CHECKING:
    from deepverify.model import ModelCard
    from deepverify.provenance import Provenance
    from deepverify.video.frames import VideoInfo


@dataclass(frozen=True)
class ImagePair:
    """An image with a heatmap overlay and the same image without it, for an on/off toggle.

    Both paths are relative to the report's folder.
    """

    overlay: str
    plain: str


class TrackScore(Protocol):
    """What scoring a track gives: calibrated probabilities for the track and per frame."""

    @property
    def probability(self) -> float:
        """Video-level probability of "fake" from the whole track."""
        ...

    @property
    def frame_probabilities(self) -> np.ndarray:
        """One probability per detection of the track."""
        ...

    @property
    def features(self) -> np.ndarray | None:
        """Mean backbone features over the track (the out-of-distribution gate's input)."""
        ...


class SampledFrameInfo(Protocol):
    """Where a sampled frame sits in the video."""

    @property
    def index(self) -> int:
        """Frame index in the stream."""
        ...

    @property
    def timestamp(self) -> float:
        """Seconds from the start."""
        ...


def track_evidence(track: Track, score: TrackScore) -> TrackEvidence:
    """What the decision needs of one scored track."""
    boxes = [det.box for det in track.detections]
    return TrackEvidence(
        track_id=track.track_id,
        probability=score.probability,
        positions=track.positions,
        frame_probabilities=np.asarray(score.frame_probabilities, dtype=np.float64),
        face_px=np.array([max(x2 - x1, y2 - y1) for x1, y1, x2, y2 in boxes], dtype=np.float64),
        detection_scores=np.array([det.score for det in track.detections], dtype=np.float64),
        features=score.features,
    )


def build_report(
    *,
    filename: str,
    info: VideoInfo,
    sha256: str,
    frames: Sequence[SampledFrameInfo],
    tracks: Sequence[Track],
    scored: Sequence[TrackScore],
    card: ModelCard,
    heatmaps: dict[tuple[int, int], ImagePair],
    overlays: dict[int, ImagePair],
    timings: dict[str, float],
    warnings: list[str],
    report_html: str | None,
    timeline_plot: str | None,
    provenance: Provenance | None = None,
    bits_per_pixel: float | None = None,
) -> Report:
    """The report of one analysis.

    Args:
        filename: The name the report shows for the video.
        info: What the decoder measured.
        sha256: The file's digest.
        frames: The sampled frames, in time order (positions index this list).
        tracks: The scored face tracks.
        scored: One score per track, in the same order.
        card: The model card (threshold, temperature, identity).
        heatmaps: Face images per ``(track_id, position)``.
        overlays: Frame images per position.
        timings: Seconds per stage so far.
        warnings: Messages for the reader.
        report_html: The HTML page's file name, if one is written.
        timeline_plot: The timeline plot's file name, if one is written.
        provenance: Content Credentials and container hints, shown beside the verdict.
        bits_per_pixel: The file's coded size per decoded pixel (the compression gate).
    """
    evidence = [track_evidence(t, s) for t, s in zip(tracks, scored, strict=True)]
    decision = decide(
        evidence,
        threshold=card.threshold,
        policy=card.policy,
        sampled_frames=len(frames),
        bits_per_pixel=bits_per_pixel,
        trained=card.trained,
    )
    observations: dict[int, list[FaceObservation]] = {}
    track_results: list[TrackResult] = []
    for track, s, seen, judged in zip(tracks, scored, evidence, decision.tracks, strict=True):
        for pos, det, fprob in zip(
            track.positions, track.detections, s.frame_probabilities, strict=True
        ):
            x1, y1, x2, y2 = det.box
            images = heatmaps.get((track.track_id, pos))
            observations.setdefault(pos, []).append(
                FaceObservation(
                    track_id=track.track_id,
                    box=(round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)),
                    detection_score=round(det.score, 4),
                    fake_probability=round(float(fprob), 4),
                    heatmap=images.overlay if images else None,
                    crop=images.plain if images else None,
                )
            )
        track_results.append(
            TrackResult(
                track_id=track.track_id,
                probability=round(s.probability, 4),
                frames=len(track.positions),
                first_timestamp=round(frames[track.positions[0]].timestamp, 4),
                last_timestamp=round(frames[track.positions[-1]].timestamp, 4),
                median_face_px=round(seen.median_face_px, 1),
                verdict=judged.verdict,
                reasons=[ReasonInfo(code=r.code, message=r.message) for r in judged.reasons],
                detection_score=round(float(np.median(seen.detection_scores)), 4),
                ood_score=None if judged.ood_score is None else round(judged.ood_score, 3),
            )
        )
    probability = decision.probability
    return Report(
        verdict=decision.verdict,
        probability=None if probability is None else round(probability, 4),
        threshold=card.threshold,
        decision=decision.binary,
        band=decision.band,
        reasons=[ReasonInfo(code=r.code, message=r.message) for r in decision.reasons],
        explanation=explain_verdict(
            decision.verdict, probability, card.threshold, track_results, provenance
        ),
        video=VideoMeta(
            filename=filename,
            sha256=sha256,
            container=info.container,
            codec=info.codec,
            width=info.width,
            height=info.height,
            rotation=info.rotation,
            duration_s=round(info.duration_s, 4),
            fps=round(info.fps, 4),
            frame_count=info.frame_count,
        ),
        model=ModelInfo(
            model_id=card.model_id,
            backbone=card.backbone,
            input_size=card.input_size,
            trained=card.trained,
            threshold=card.threshold,
            temperature=card.temperature,
        ),
        tracks=track_results,
        frames=[
            FrameResult(
                position=pos,
                index=frame.index,
                timestamp=round(frame.timestamp, 4),
                faces=observations.get(pos, []),
                overlay=overlays[pos].overlay if pos in overlays else None,
                image=overlays[pos].plain if pos in overlays else None,
            )
            for pos, frame in enumerate(frames)
        ],
        timings=dict(timings),
        warnings=warnings,
        created_at=datetime.now(UTC),
        report_html=report_html,
        timeline_plot=timeline_plot,
        provenance=provenance,
    )
