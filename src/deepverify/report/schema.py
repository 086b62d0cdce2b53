"""The analysis report: a versioned JSON schema (pydantic) and a self-contained HTML rendering.

The report is the product: everything a user needs to justify a verdict is in it — the calibrated
probability and the threshold it was compared with, the score of every face track and of every
sampled frame, the boxes, timestamps and heatmap files, and which model produced it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from deepverify.geometry import Box
from deepverify.provenance.schema import Provenance, decisive_ai_declaration

# 1.1 added the provenance section; 1.2 the three-way verdict (INCONCLUSIVE with its reasons,
# which replaces NO_FACE), the two-class decision, the band and per-track verdicts. Reports of
# 1.0 and 1.1 (stored by earlier versions) still validate.
SCHEMA_VERSION: Literal["1.2"] = "1.2"

Verdict = Literal["REAL", "FAKE", "INCONCLUSIVE", "NO_FACE"]
"""``NO_FACE`` appears only in reports before schema 1.2 (now INCONCLUSIVE, reason no_face)."""

VERDICT_MEANINGS: dict[str, str] = {
    "FAKE": "substantial evidence of manipulation",
    "REAL": "no evidence of manipulation found",
    "INCONCLUSIVE": "the evidence does not support a verdict",
    "NO_FACE": "no face was found",
}


class _Schema(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VideoMeta(_Schema):
    """What was analysed, as measured by the decoder (not trusted from the header)."""

    filename: str
    sha256: str
    container: str
    codec: str
    width: int = Field(description="Display width after rotation, pixels")
    height: int = Field(description="Display height after rotation, pixels")
    rotation: int = Field(description="Rotation applied to get upright frames, degrees")
    duration_s: float
    fps: float
    frame_count: int


class ModelInfo(_Schema):
    """The model card fields a reader needs to judge the verdict."""

    model_id: str
    backbone: str
    input_size: int
    trained: bool
    threshold: float
    temperature: float


class FaceObservation(_Schema):
    """One face in one sampled frame."""

    track_id: int
    box: Box = Field(description="x1, y1, x2, y2 in upright full-resolution pixels")
    detection_score: float
    fake_probability: float = Field(description="Calibrated per-frame probability of 'fake'")
    heatmap: str | None = Field(None, description="Grad-CAM overlay on the face crop (JPEG)")
    crop: str | None = Field(None, description="The face crop the model saw, no overlay (JPEG)")


class FrameResult(_Schema):
    """One sampled frame: where it is in the video, and the faces found in it."""

    position: int = Field(description="Index in the sampled-frame list")
    index: int = Field(description="Frame index in the video stream")
    timestamp: float = Field(description="Seconds from the start")
    faces: list[FaceObservation]
    overlay: str | None = Field(None, description="The frame with every face's heatmap (JPEG)")
    image: str | None = Field(None, description="The frame without overlay, downscaled (JPEG)")


class ReasonInfo(_Schema):
    """Why a video or a face track is inconclusive."""

    code: str = Field(description="Stable code, e.g. small_faces, uncertain_score, no_face")
    message: str = Field(description="The reason in plain language")


class TrackResult(_Schema):
    """One person followed across the sampled frames, scored as a sequence."""

    track_id: int
    probability: float = Field(description="Calibrated video-level probability of 'fake'")
    frames: int = Field(description="Number of sampled frames the face appears in")
    first_timestamp: float
    last_timestamp: float
    median_face_px: float
    verdict: Verdict | None = Field(None, description="This face's verdict (null before 1.2)")
    reasons: list[ReasonInfo] = Field(
        default_factory=list, description="Why this face was not judged (empty when it was)"
    )
    detection_score: float | None = Field(None, description="Median face detection confidence")
    ood_score: float | None = Field(
        None, description="Distance from the training data's faces (null when not fitted)"
    )


class Report(_Schema):
    """The result of analysing one video."""

    schema_version: Literal["1.0", "1.1", "1.2"] = SCHEMA_VERSION
    verdict: Verdict = Field(
        description="FAKE (substantial evidence of manipulation), REAL (no evidence found) or "
        "INCONCLUSIVE (see reasons)"
    )
    probability: float | None = Field(
        description="Calibrated probability that the video is manipulated; null when no face"
    )
    threshold: float
    decision: Literal["REAL", "FAKE"] | None = Field(
        None,
        description="The plain two-class decision: the probability against the threshold, for "
        "scripts that need two classes (null when no face, and in reports before 1.2)",
    )
    band: tuple[float, float] | None = Field(
        None,
        description="Uncertain band (low, high): REAL below low, FAKE at or above high",
    )
    reasons: list[ReasonInfo] = Field(
        default_factory=list, description="Why the verdict is INCONCLUSIVE (empty otherwise)"
    )
    explanation: str = Field(description="The verdict in plain language")
    video: VideoMeta
    model: ModelInfo
    tracks: list[TrackResult]
    frames: list[FrameResult]
    timings: dict[str, float] = Field(description="Seconds spent per pipeline stage")
    warnings: list[str]
    created_at: datetime
    report_html: str | None = None
    timeline_plot: str | None = None
    provenance: Provenance | None = Field(
        default=None,
        description="Content Credentials and container tags: beside the verdict, never part of "
        "it (null in reports made before schema 1.1)",
    )

    def to_json(self) -> str:
        """The report as indented JSON text."""
        return self.model_dump_json(indent=2)

    def image_paths(self) -> list[str]:
        """Every image file the report names, relative to its folder, each once.

        The timeline plot, then per frame its overlay and plain image and per face its heatmap
        and plain crop. The only list of a report's images: the HTML page embeds from it and the
        service serves nothing else.
        """
        paths = [self.timeline_plot]
        for frame in self.frames:
            paths += [frame.overlay, frame.image]
            paths += [path for face in frame.faces for path in (face.heatmap, face.crop)]
        return list(dict.fromkeys(path for path in paths if path))


def explain_verdict(
    verdict: Verdict,
    probability: float | None,
    threshold: float,
    tracks: list[TrackResult],
    provenance: Provenance | None = None,
) -> str:
    """Say in plain language what the verdict means and what drove it.

    Provenance is mentioned only where it is decisive (a valid manifest declaring AI generation);
    a missing or broken manifest never counts against a video.
    """
    text = _explain_score(verdict, probability, threshold, tracks)
    if provenance is not None and decisive_ai_declaration(provenance):
        signer = provenance.content_credentials.signer
        who = signer.subject if signer and signer.subject else "a trusted signer"
        text += (
            f" Independently of the model, the video carries valid Content Credentials in which "
            f"{who} declares it was made with AI."
        )
    return text


def _explain_score(
    verdict: Verdict, probability: float | None, threshold: float, tracks: list[TrackResult]
) -> str:
    if verdict == "NO_FACE" or probability is None:
        return (
            "No face was found in the sampled frames, so the video could not be assessed. "
            "This detector only judges face manipulation."
        )
    pct = f"{probability:.0%}"
    if verdict == "FAKE":
        worst = max(tracks, key=lambda t: t.probability if t.verdict != "INCONCLUSIVE" else -1)
        who = f"face track {worst.track_id}" if len(tracks) > 1 else "the face"
        return (
            f"Substantial evidence of manipulation: the model puts the probability that this "
            f"video is manipulated at {pct}. The strongest evidence comes from {who} "
            f"({worst.probability:.0%}); the heatmaps show the regions that raised the score."
        )
    if verdict == "INCONCLUSIVE":
        side = "above" if probability >= threshold else "below"
        return (
            f"Inconclusive: the model puts the probability that this video is manipulated at "
            f"{pct} ({side} the two-class threshold of {threshold:.0%}), but the evidence does "
            "not support a verdict; the reasons are listed. Judge it by other means."
        )
    return (
        f"No evidence of manipulation found: the model puts the probability that this video is "
        f"manipulated at {pct}; no face track looked manipulated. "
        "A REAL verdict is not proof of authenticity."
    )


# Frames shown in full in the HTML report: the most suspicious ones (their crops are all shown).
