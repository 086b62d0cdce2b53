"""The core: one function turns a video file into a :class:`~deepverify.report.Report`.

``analyze_video`` is the only place the stages are chained — decode, detect, track, crop, score,
explain, report. The CLI, the job worker and the API all call it.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import torch

from deepverify import crops as crops_mod
from deepverify.errors import ModelError
from deepverify.explain import downscale, frame_overlay, gradcam, overlay
from deepverify.faces import FaceDetector
from deepverify.files import sha256_file
from deepverify.frames import Check, Frame, VideoInfo, sample_frames
from deepverify.model import DeepfakeDetector, ModelCard, default_model_path, load_checkpoint
from deepverify.report import (
    FaceObservation,
    FrameResult,
    ModelInfo,
    Report,
    TrackResult,
    Verdict,
    VideoMeta,
    explain_verdict,
    render_html,
    timeline_png,
)
from deepverify.stages import ProgressCallback
from deepverify.tracks import Track, link_tracks

logger = logging.getLogger(__name__)


# A track seen in fewer than this fraction of the sampled frames is most likely a false detection
# (a poster, a pattern); it is not scored unless it is the only one.
MIN_TRACK_FRACTION = 0.2

GRADCAM_BATCH = 8

UNTRAINED_WARNING = (
    "This model is untrained (its card says trained: false): the verdict and probabilities are "
    "meaningless. Use a trained checkpoint."
)


@dataclass(frozen=True)
class LoadedModel:
    """A network ready for inference, with the card that describes it."""

    network: DeepfakeDetector
    card: ModelCard
    device: torch.device


def load_model(checkpoint: Path | None = None, *, device: str = "cpu") -> LoadedModel:
    """Load a checkpoint (or the packaged default model) for inference.

    Args:
        checkpoint: A ``.safetensors`` checkpoint with its ``.json`` card beside it; ``None`` for
            the trained default model shipped with the package.
        device: ``cpu`` or ``cuda`` (``cuda:N``).

    Raises:
        ModelError: No checkpoint given and no default model installed, an unreadable
            checkpoint, or an unavailable device.
    """
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} requested but CUDA is not available; use --device cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise ModelError(f"unknown device {device!r}; use 'cpu' or 'cuda'")
    path = checkpoint if checkpoint is not None else default_model_path()
    if path is None:
        raise ModelError(
            "no trained default model is installed; pass --model CKPT "
            "(an untrained one can be made with `deepverify model init`)"
        )
    network, card = load_checkpoint(Path(path), device=device)
    network.eval()
    return LoadedModel(network=network, card=card, device=torch.device(device))


def _calibrated(logits: torch.Tensor, card: ModelCard) -> np.ndarray:
    return torch.sigmoid(logits.float() / card.temperature).cpu().numpy().astype(np.float64)


def _scored_tracks(tracks: list[Track], num_frames: int) -> list[Track]:
    if not tracks:
        return []
    min_len = max(1, math.ceil(MIN_TRACK_FRACTION * num_frames))
    kept = [t for t in tracks if len(t.positions) >= min_len]
    return kept or [max(tracks, key=lambda t: len(t.positions))]


@contextmanager
def _staging(out_dir: Path | None) -> Iterator[Path | None]:
    """A scratch folder beside ``out_dir`` whose files move into it only on success."""
    if out_dir is None:
        yield None
        return
    out_dir = out_dir.resolve()
    staging = out_dir.parent / f".{out_dir.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        yield staging
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in staging.iterdir():
            target = out_dir / item.name
            if target.is_dir():
                shutil.rmtree(target)
            item.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise OSError(f"could not write {path}")


def analyze_video(
    path: Path,
    *,
    model: LoadedModel,
    detector: FaceDetector,
    num_frames: int | None = None,
    out_dir: Path | None = None,
    explain: bool = True,
    progress: ProgressCallback | None = None,
    check: Check | None = None,
) -> Report:
    """Analyse one video and return its report.

    Args:
        path: The video file.
        model: The network and its card (see :func:`load_model`).
        detector: A face detector from :func:`deepverify.faces.create_detector`.
        num_frames: Frames to sample uniformly over the whole video; defaults to the card's.
        out_dir: Where to write ``report.json``, ``report.html``, ``timeline.png`` and the heatmap
            PNGs. Files appear only when the analysis succeeds. ``None`` writes nothing.
        explain: Compute Grad-CAM heatmaps (needs ``out_dir`` to save them).
        progress: Called as stages advance, for progress bars and server-sent events.
        check: Called as decoding advances (every packet and frame); raising from it stops
            the analysis (the service's cancellation and time budget).

    Raises:
        InvalidVideoError: The file is not a decodable video.
    """
    path = Path(path)
    card = model.card
    n_frames = num_frames or card.frames
    notify = progress or (lambda stage, fraction: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def lap(stage: str, since: float) -> float:
        now = time.perf_counter()
        timings[stage] = round(now - since, 4)
        notify(stage, 1.0)
        return now

    notify("decode", 0.0)
    info, frames = sample_frames(path, n_frames, check=check)
    sha256 = sha256_file(path)
    mark = lap("decode", started)

    notify("faces", 0.0)
    detections = []
    for i, frame in enumerate(frames):
        detections.append(detector.detect(frame.image))
        notify("faces", (i + 1) / len(frames))
    all_tracks = link_tracks(detections)
    tracks = _scored_tracks(all_tracks, len(frames))
    mark = lap("faces", mark)

    warnings: list[str] = [] if card.trained else [UNTRAINED_WARNING]
    if len(all_tracks) > len(tracks):
        warnings.append(
            f"{len(all_tracks) - len(tracks)} face track(s) seen in too few frames were not scored"
        )
    if len(frames) < n_frames:
        warnings.append(f"the video has only {len(frames)} frames; all were analysed")

    with _staging(out_dir) as staging:
        scored = _score(frames, tracks, model)
        mark = lap("model", mark)
        notify("heatmaps", 0.0)
        heatmaps, overlays = (
            _explain(frames, tracks, scored, model, staging, notify)
            if explain and staging is not None
            else ({}, {})
        )
        mark = lap("heatmaps", mark)
        notify("report", 0.0)
        report = _build_report(
            path=path,
            info=info,
            sha256=sha256,
            frames=frames,
            tracks=tracks,
            scored=scored,
            card=card,
            heatmaps=heatmaps,
            overlays=overlays,
            timings=timings,
            warnings=warnings,
            with_files=staging is not None,
        )
        if staging is not None:
            if report.timeline_plot:
                (staging / report.timeline_plot).write_bytes(timeline_png(report))
            (staging / "report.html").write_text(render_html(report, staging), encoding="utf-8")
        timings["report"] = round(time.perf_counter() - mark, 4)
        timings["total"] = round(time.perf_counter() - started, 4)
        report = report.model_copy(update={"timings": dict(timings)})
        if staging is not None:
            (staging / "report.json").write_text(report.to_json(), encoding="utf-8")
    notify("report", 1.0)
    return report


@dataclass(frozen=True)
class _ScoredTrack:
    crops: list[np.ndarray]
    boxes: list[tuple[int, int, int, int]]  # square crop boxes, for pasting CAMs back
    probability: float  # calibrated, from the LSTM over the whole track
    frame_probabilities: np.ndarray  # calibrated, one per crop


def _score(frames: list[Frame], tracks: list[Track], model: LoadedModel) -> list[_ScoredTrack]:
    """Crop every track's faces and score each track as one sequence."""
    card = model.card
    scored = []
    for track in tracks:
        crops, boxes = [], []
        for pos, det in zip(track.positions, track.detections, strict=True):
            image = frames[pos].image
            crops.append(
                crops_mod.crop_face(image, det.box, margin=card.crop_margin, size=card.input_size)
            )
            boxes.append(
                crops_mod.square_box(
                    det.box, margin=card.crop_margin, frame_size=(image.shape[1], image.shape[0])
                )
            )
        clip = crops_mod.to_tensor(crops, mean=card.mean, std=card.std).to(model.device)
        with torch.inference_mode():
            output = model.network(clip.unsqueeze(0))
        scored.append(
            _ScoredTrack(
                crops=crops,
                boxes=boxes,
                probability=float(_calibrated(output.video_logits, card)[0]),
                frame_probabilities=_calibrated(output.frame_logits[0], card),
            )
        )
    return scored


def _explain(
    frames: list[Frame],
    tracks: list[Track],
    scored: list[_ScoredTrack],
    model: LoadedModel,
    out: Path,
    notify: ProgressCallback,
) -> tuple[dict[tuple[int, int], str], dict[int, str]]:
    """Write a Grad-CAM overlay per face crop and per frame; return their relative paths."""
    all_crops = [crop for s in scored for crop in s.crops]
    if not all_crops:
        return {}, {}
    card = model.card
    # Small batches keep the activations Grad-CAM holds for its backward pass in check.
    cams = gradcam(
        model.network,
        crops_mod.to_tensor(all_crops, mean=card.mean, std=card.std).to(model.device),
        batch_size=GRADCAM_BATCH,
    )
    heatmaps: dict[tuple[int, int], str] = {}
    per_frame: dict[int, list[tuple[tuple[int, int, int, int], np.ndarray]]] = {}
    images: list[tuple[Path, np.ndarray]] = []  # PNGs to write
    k = 0
    for track, s in zip(tracks, scored, strict=True):
        for pos, crop, box in zip(track.positions, s.crops, s.boxes, strict=True):
            rel = f"heatmaps/track{track.track_id}_{pos:03d}.png"
            images.append((out / rel, overlay(crop, cams[k])))
            images.append((out / "crops" / f"track{track.track_id}_{pos:03d}.png", crop))
            heatmaps[(track.track_id, pos)] = rel
            per_frame.setdefault(pos, []).append((box, cams[k]))
            k += 1
    overlays: dict[int, str] = {}
    for pos, faces in per_frame.items():
        image, scale = downscale(frames[pos].image)
        rel = f"frames/frame_{pos:03d}.png"
        images.append((out / rel, frame_overlay(image, scale, faces)))
        images.append((out / "frames" / f"plain_{pos:03d}.png", image))
        overlays[pos] = rel
    notify("heatmaps", 0.5)
    for folder in {path.parent for path, _ in images}:
        folder.mkdir(parents=True, exist_ok=True)
    # PNG encoding dominates this stage; OpenCV releases the GIL, so threads use every core.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for done, _ in enumerate(pool.map(_write_png, *zip(*images, strict=True)), start=1):
            notify("heatmaps", 0.5 + 0.5 * done / len(images))
    return heatmaps, overlays


def _plain(overlay_path: str | None, prefix: str, plain_prefix: str) -> str | None:
    """The path of the plain image written beside an overlay (see :func:`_explain`)."""
    if overlay_path is None:
        return None
    return plain_prefix + overlay_path.removeprefix(prefix)


def _build_report(
    *,
    path: Path,
    info: VideoInfo,
    sha256: str,
    frames: list[Frame],
    tracks: list[Track],
    scored: list[_ScoredTrack],
    card: ModelCard,
    heatmaps: dict[tuple[int, int], str],
    overlays: dict[int, str],
    timings: dict[str, float],
    warnings: list[str],
    with_files: bool,
) -> Report:
    observations: dict[int, list[FaceObservation]] = {}
    track_results: list[TrackResult] = []
    for track, s in zip(tracks, scored, strict=True):
        sizes = []
        for pos, det, fprob in zip(
            track.positions, track.detections, s.frame_probabilities, strict=True
        ):
            x1, y1, x2, y2 = det.box
            sizes.append(max(x2 - x1, y2 - y1))
            observations.setdefault(pos, []).append(
                FaceObservation(
                    track_id=track.track_id,
                    box=(round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)),
                    detection_score=round(det.score, 4),
                    fake_probability=round(float(fprob), 4),
                    heatmap=heatmaps.get((track.track_id, pos)),
                    crop=_plain(heatmaps.get((track.track_id, pos)), "heatmaps/", "crops/"),
                )
            )
        track_results.append(
            TrackResult(
                track_id=track.track_id,
                probability=round(s.probability, 4),
                frames=len(track.positions),
                first_timestamp=round(frames[track.positions[0]].timestamp, 4),
                last_timestamp=round(frames[track.positions[-1]].timestamp, 4),
                median_face_px=round(float(np.median(sizes)), 1),
            )
        )
    # One manipulated face makes the video manipulated: the video score is the worst track's.
    probability = max((s.probability for s in scored), default=None)
    verdict: Verdict
    if probability is None:
        verdict = "NO_FACE"
    else:
        verdict = "FAKE" if probability >= card.threshold else "REAL"
    return Report(
        verdict=verdict,
        probability=None if probability is None else round(probability, 4),
        threshold=card.threshold,
        explanation=explain_verdict(verdict, probability, card.threshold, track_results),
        video=VideoMeta(
            filename=path.name,
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
                overlay=overlays.get(pos),
                image=_plain(overlays.get(pos), "frames/frame_", "frames/plain_"),
            )
            for pos, frame in enumerate(frames)
        ],
        timings=dict(timings),
        warnings=warnings,
        created_at=datetime.now(UTC),
        report_html="report.html" if with_files else None,
        timeline_plot="timeline.png" if with_files and tracks else None,
    )
