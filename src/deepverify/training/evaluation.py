"""Evaluate a model on a labelled dataset exactly as ``scan`` would judge each video.

Every video goes through :func:`deepverify.pipeline.analyze_video` (no heatmaps), so the figures
describe what users get: the card's temperature, threshold and decision policy are *applied*,
never fitted here. Videos where no face is found have no score; they are listed and left out of
the probability metrics, and count as inconclusive in the coverage figures
(:mod:`deepverify.training.selective`). Unreadable files are skipped, counted and listed; the run
goes on. Several folders can be evaluated at once: every figure is given for all of them
together and for each source folder.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from deepverify.engine import Engine
from deepverify.errors import DeepverifyError, ModelError
from deepverify.faces import FaceDetector
from deepverify.files import atomic_write_text
from deepverify.model import ModelCard, card_path
from deepverify.pipeline import analyze_video
from deepverify.training.datasets import VideoItem
from deepverify.training.eval_result import (
    Counts,
    EvaluatedModel,
    EvaluationResult,
    Figures,
    ManipulationRow,
    SkippedFile,
    SourceSummary,
    VideoResult,
    verdict_rows,
)
from deepverify.training.metrics import (
    bootstrap_intervals,
    classification_metrics,
    save_reliability_plot,
    save_roc_plot,
    within_group_auc,
)
from deepverify.training.selective import (
    decisive_metrics,
    risk_coverage,
    save_risk_coverage_plot,
)

logger = logging.getLogger(__name__)

EvalProgress = Callable[[int, int, str], None]
"""(videos done, videos in total, last file name)."""


def evaluate_items(
    items: Sequence[VideoItem],
    *,
    model: Engine,
    detector: FaceDetector,
    num_frames: int | None = None,
    progress: EvalProgress | None = None,
    sources: Sequence[str] | None = None,
) -> EvaluationResult:
    """Run the pipeline over ``items`` and compute video- and frame-level metrics.

    Args:
        items: The labelled videos.
        model: The engine and its card.
        detector: The face detector.
        num_frames: Frames per video (default: the card's).
        progress: Called after each video.
        sources: The source folder of each item (default: one source, "all").

    Returns:
        Model, counts, ``video`` and ``frame`` metrics, coverage and accuracy of the decisive
        verdicts, the risk-coverage curve, the same per source folder and per manipulation,
        per-video results, and the files skipped (unreadable) or without a face.
    """
    card = model.card
    per_video: list[VideoResult] = []
    failed: list[SkippedFile] = []
    no_face: list[str] = []
    frame_labels: list[int] = []
    frame_probs: list[float] = []
    names = list(sources) if sources is not None else ["all"] * len(items)
    for k, (item, source) in enumerate(zip(items, names, strict=True), 1):
        try:
            report = analyze_video(
                item.path, model=model, detector=detector, num_frames=num_frames, explain=False
            )
        except DeepverifyError as exc:
            logger.warning("skipped %s: %s", item.path, exc)
            failed.append(SkippedFile(file=item.path.name, source=source, reason=str(exc)))
        else:
            if report.probability is None:
                no_face.append(item.path.name)
            else:
                for frame in report.frames:
                    for face in frame.faces:
                        frame_labels.append(item.label)
                        frame_probs.append(face.fake_probability)
            per_video.append(
                VideoResult(
                    file=item.path.name,
                    source=source,
                    label=item.label,
                    manipulation=_manipulation(item),
                    group=item.group,
                    probability=report.probability,
                    verdict=report.verdict,
                    decision=report.decision,
                    reasons=tuple(r.code for r in report.reasons),
                    tracks=len(report.tracks),
                    track_probabilities=tuple(t.probability for t in report.tracks),
                    track_face_px=tuple(t.median_face_px for t in report.tracks),
                )
            )
        if progress:
            progress(k, len(items), item.path.name)
    scored = [v for v in per_video if v.probability is not None]
    labels, probs = _scores(scored)
    return EvaluationResult(
        model=EvaluatedModel(
            model_id=card.model_id,
            backbone=card.backbone,
            threshold=card.threshold,
            temperature=card.temperature,
            frames=num_frames or card.frames,
        ),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        counts=Counts(
            items=len(items), scored=len(scored), no_face=len(no_face), failed=len(failed)
        ),
        video=classification_metrics(labels, probs, card.threshold),
        video_intervals=bootstrap_intervals(labels, probs, card.threshold),
        frame=classification_metrics(
            np.array(frame_labels, dtype=int), np.array(frame_probs), card.threshold
        ),
        decisive=decisive_metrics(verdict_rows(per_video)),
        risk_coverage=risk_coverage(labels, probs, card.threshold),
        per_source={
            name: source_summary([v for v in per_video if v.source == name], card.threshold)
            for name in dict.fromkeys(names)
        },
        per_manipulation=tuple(per_manipulation(per_video, card.threshold)),
        within_group=within_group_auc(labels, probs, [v.group for v in scored]),
        videos=tuple(per_video),
        no_face=tuple(no_face),
        failed=tuple(failed),
    )


def _scores(videos: Sequence[VideoResult]) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities of the videos that have a probability."""
    scored = [v for v in videos if v.probability is not None]
    return (
        np.array([v.label for v in scored], dtype=int),
        np.array([v.probability for v in scored], dtype=np.float64),
    )


def source_summary(videos: Sequence[VideoResult], threshold: float) -> SourceSummary:
    """The headline figures of one source folder's videos."""
    labels, probs = _scores(videos)
    return SourceSummary(
        videos=len(videos),
        scored=int(labels.size),
        video=classification_metrics(labels, probs, threshold),
        video_intervals=bootstrap_intervals(labels, probs, threshold),
        decisive=decisive_metrics(verdict_rows(list(videos))),
    )


def _manipulation(item: VideoItem) -> str:
    if item.label == 0:
        return "none"
    return item.method or "unknown"


def per_manipulation(videos: Sequence[VideoResult], threshold: float) -> list[ManipulationRow]:
    """One row per manipulation (and "none" for the real videos): "which fakes do we miss".

    Each row: videos, scored, detected at ``threshold`` (for reals: wrongly flagged), mean
    probability, and the ROC AUC of that manipulation's fakes against every scored real video.
    """
    real = [v.probability for v in videos if v.label == 0 and v.probability is not None]
    rows = []
    for name in sorted({v.manipulation for v in videos}, key=lambda m: (m != "none", m)):
        group = [v for v in videos if v.manipulation == name]
        probs = [v.probability for v in group if v.probability is not None]
        auc = None
        if name != "none" and probs and real:
            auc = classification_metrics(
                np.array([0] * len(real) + [1] * len(probs)), np.array(real + probs)
            )["roc_auc"]
        rows.append(
            ManipulationRow(
                manipulation=name,
                videos=len(group),
                scored=len(probs),
                above_threshold=sum(p >= threshold for p in probs),
                mean_probability=round(float(np.mean(probs)), 4) if probs else None,
                roc_auc_vs_real=auc,
                verdicts=dict(Counter(v.verdict for v in group)),
                files=tuple(v.file for v in group),
            )
        )
    return rows


def write_outputs(result: EvaluationResult, out_dir: Path) -> dict[str, str]:
    """Write ``evaluation.json`` and the ROC / reliability PNGs; return the files written.

    ``evaluation.json`` is the result as JSON plus ``plots`` (name -> file written).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    labels, probs = _scores(result.videos)
    curve, operating = result.risk_coverage, result.decisive
    if save_risk_coverage_plot(curve, operating, out_dir / "risk_coverage.png", "risk-coverage"):
        written["risk_coverage"] = "risk_coverage.png"
    if save_roc_plot(labels, probs, out_dir / "roc_video.png", "video-level ROC"):
        written["roc_video"] = "roc_video.png"
    if save_reliability_plot(labels, probs, out_dir / "reliability_video.png", "video-level"):
        written["reliability_video"] = "reliability_video.png"
    data = {**result.model_dump(mode="json"), "plots": written}
    (out_dir / "evaluation.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    written["json"] = "evaluation.json"
    return written


def _headline(decisive: Figures) -> Figures:
    keys = ("videos", "decisive", "coverage", "accuracy", "verdicts", "real_crowds_called_fake")
    return {k: decisive[k] for k in keys}


def record_in_card(checkpoint: Path, name: str, result: EvaluationResult) -> ModelCard:
    """Store the headline figures of ``result`` under ``metrics.evaluation.<name>`` in the card.

    The weights (and their sha256) are untouched; only the JSON card beside them is rewritten.
    """
    path = card_path(checkpoint)
    card = ModelCard.read(path)
    keep = ("n", "n_fake", "accuracy", "f1", "roc_auc", "average_precision", "log_loss", "ece")
    summary = {
        "counts": result.counts.model_dump(),
        "video": {k: result.video[k] for k in keep}
        | {"confusion_matrix": result.video["confusion_matrix"]},
        "frame": {k: result.frame[k] for k in keep},
        "video_intervals": result.video_intervals,
        "decisive": _headline(result.decisive),
        "per_source": {
            name: {
                "video": {k: source.video[k] for k in ("n", "accuracy", "roc_auc", "log_loss")},
                "decisive": _headline(source.decisive),
            }
            for name, source in result.per_source.items()
        },
        "date": result.created,
    }
    evaluations = dict(card.metrics.get("evaluation", {}))
    evaluations[name] = summary
    updated = card.replace(metrics={**card.metrics, "evaluation": evaluations})
    try:
        atomic_write_text(path, updated.to_json())
    except OSError as exc:
        raise ModelError(f"cannot update model card {path}: {exc}") from exc
    return updated
