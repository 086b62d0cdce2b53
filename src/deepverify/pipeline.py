"""The core: one function turns a video file into a :class:`~deepverify.report.schema.Report`.

``analyze_video`` is the only place the stages are chained — decode, detect, track, crop, score,
explain, report. ``deepverify scan`` and the job worker call it; the API only queues jobs for the
worker.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from deepverify.decision import bits_per_pixel
from deepverify.defaults import MAX_FACES_PER_FRAME
from deepverify.engine import Engine
from deepverify.explain import frame_overlay, overlay
from deepverify.faces import FaceDetector
from deepverify.faces.tracks import MIN_TRACK_FRACTION, Track, link_tracks
from deepverify.files import sha256_file
from deepverify.provenance import read_provenance
from deepverify.report.builder import ImagePair, build_report
from deepverify.report.output import (
    ImageWriter,
    report_file_names,
    staging,
    write_json,
    write_pages,
)
from deepverify.report.schema import Report
from deepverify.scoring import CropScorer, ScoredTrack, score_tracks
from deepverify.stages import DECODE, FACES, HEATMAPS, MODEL, REPORT, ProgressCallback
from deepverify.video.decode import Sampled, SampledFrame, decode_and_detect
from deepverify.video.frames import Check

logger = logging.getLogger(__name__)


UNTRAINED_WARNING = (
    "This model is untrained (its card says trained: false): the verdict and probabilities are "
    "meaningless. Use a trained checkpoint."
)


def scored_tracks(tracks: list[Track], num_frames: int) -> list[Track]:
    """The tracks worth scoring: those over ``MIN_TRACK_FRACTION`` of the frames, else the longest.

    Scan and live mode both choose their tracks by this rule.
    """
    if not tracks:
        return []
    min_len = max(1, math.ceil(MIN_TRACK_FRACTION * num_frames))
    kept = [t for t in tracks if len(t.positions) >= min_len]
    return kept or [max(tracks, key=lambda t: len(t.positions))]


def find_faces(
    path: Path,
    num_frames: int,
    *,
    detector: FaceDetector,
    margin: float,
    size: int,
    notify: ProgressCallback | None = None,
    check: Check | None = None,
    on_frame: Callable[[SampledFrame], None] | None = None,
) -> tuple[Sampled, list[Track]]:
    """The front half shared by ``scan`` and ``extract``: decode, detect, crop, track.

    :func:`score_video` calls it with the model's crop margin and size; the training cache
    (:mod:`deepverify.training.cache`) with its wider ones, so both see the same frames, boxes
    and tracks.

    Args:
        path: The video file.
        num_frames: Frames to sample uniformly over the whole video.
        detector: The face detector.
        margin: Crop margin, as in :func:`deepverify.faces.crops.crop_face`.
        size: Crop side in pixels.
        notify: Progress callback (stages "decode" and "faces").
        check: Called as decoding advances; raising from it stops the work.
        on_frame: Called with each frame as soon as its faces are cut out.

    Returns:
        The sampled frames (with each face's crop) and every face track found in them.

    Raises:
        InvalidVideoError: The file is not a decodable video.
    """
    sampled = decode_and_detect(
        path, num_frames, detector=detector, margin=margin, size=size,
        notify=notify or (lambda stage, fraction: None), check=check, on_frame=on_frame,
    )  # fmt: skip
    return sampled, link_tracks([frame.detections for frame in sampled.frames])


@dataclass(frozen=True)
class ScoredVideo:
    """The front half of an analysis: what was decoded, found, tracked and scored.

    Attributes:
        path: The video file.
        sampled: Decoding and detection's result (video info, sampled frames, timings).
        sha256: The file's digest ("" when not asked for).
        all_tracks: Every face track found.
        tracks: The tracks that were scored (long enough, see :data:`MIN_TRACK_FRACTION`).
        scored: One score per scored track, in the same order.
        model_s: Seconds spent in the network.
        bits_per_pixel: The file's coded size per decoded pixel (the compression gate).
    """

    path: Path
    sampled: Sampled
    sha256: str
    all_tracks: list[Track]
    tracks: list[Track]
    scored: list[ScoredTrack]
    model_s: float
    bits_per_pixel: float | None

    @property
    def frames(self) -> list[SampledFrame]:
        """The sampled frames in time order."""
        return self.sampled.frames


def score_video(
    path: Path,
    *,
    model: Engine,
    detector: FaceDetector,
    num_frames: int | None = None,
    explain: bool = False,
    progress: ProgressCallback | None = None,
    check: Check | None = None,
    digest: bool = True,
) -> ScoredVideo:
    """Decode, detect, track and score one video; nothing is written.

    :func:`analyze_video` builds the report from this; fitting a decision policy reads the
    tracks' evidence from it directly.

    Args:
        path: The video file.
        model: The engine and its card.
        detector: The face detector.
        num_frames: Frames to sample; defaults to the card's.
        explain: Keep the activation maps for heatmaps.
        progress: Called as stages advance.
        check: Called as decoding advances; raising from it stops the analysis.
        digest: Compute the file's sha256 while it is decoded.

    Raises:
        InvalidVideoError: The file is not a decodable video.
    """
    card = model.card
    notify = progress or (lambda stage, fraction: None)
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as hasher,
        CropScorer(model, explain=explain) as scorer,
    ):
        hashing = hasher.submit(sha256_file, path) if digest else None  # read while decoded
        notify(DECODE, 0.0)
        notify(FACES, 0.0)
        # Decoding, detection and the network's crop part overlap: "decode" is when the last
        # frame was decoded, "faces" the time spent detecting, "model" the time in the network.
        sampled, all_tracks = find_faces(
            path, num_frames or card.frames, detector=detector, margin=card.crop_margin,
            size=card.input_size, notify=notify, check=check, on_frame=scorer.submit,
        )  # fmt: skip
        notify(DECODE, 1.0)
        notify(FACES, 1.0)
        face_scores = scorer.results()
        sha256 = hashing.result() if hashing is not None else ""
    frames = sampled.frames
    tracks = scored_tracks(all_tracks, len(frames))
    mark = time.perf_counter()
    scored = score_tracks(frames, tracks, face_scores, model)
    notify(MODEL, 1.0)
    info = sampled.info
    return ScoredVideo(
        path=path,
        sampled=sampled,
        sha256=sha256,
        all_tracks=all_tracks,
        tracks=tracks,
        scored=scored,
        model_s=scorer.seconds + time.perf_counter() - mark,
        bits_per_pixel=bits_per_pixel(
            path.stat().st_size, info.width, info.height, info.frame_count
        ),
    )


def analyze_video(
    path: Path,
    *,
    model: Engine,
    detector: FaceDetector,
    num_frames: int | None = None,
    out_dir: Path | None = None,
    explain: bool = True,
    progress: ProgressCallback | None = None,
    display_name: str | None = None,
    check: Check | None = None,
) -> Report:
    """Analyse one video and return its report.

    Args:
        path: The video file.
        model: The engine and its card (see :func:`deepverify.engine.load_engine`).
        detector: A face detector from :func:`deepverify.faces.create_detector`.
        num_frames: Frames to sample uniformly over the whole video; defaults to the card's.
        out_dir: Where to write ``report.json``, ``report.html``, ``timeline.png`` and the heatmap
            images. Files appear only when the analysis succeeds. ``None`` writes nothing.
        explain: Write heatmaps (class activation maps from the scoring pass; needs
            ``out_dir`` to save them).
        progress: Called as stages advance, for progress bars and server-sent events.
        display_name: The file name the report shows; defaults to ``path``'s (the service
            stores uploads under generated names and passes the user's own).
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

    explaining = explain and out_dir is not None
    # Provenance is read beside the decoding rather than after it, where it ran alone on one
    # core (0.03 s of CPU for a clip; the first also loads the C2PA library). It never raises
    # for a bad manifest (the section says "unreadable"); a failed or stopped analysis does not
    # wait for it.
    side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="provenance")
    try:
        reading = side.submit(read_provenance, path)
        video = score_video(
            path, model=model, detector=detector, num_frames=n_frames, explain=explaining,
            progress=notify, check=check,
        )  # fmt: skip
        provenance = reading.result()
    finally:
        side.shutdown(wait=False, cancel_futures=True)
    sampled, frames, tracks, scored = video.sampled, video.frames, video.tracks, video.scored
    timings[DECODE] = round(sampled.decode_s, 4)
    timings[FACES] = round(sampled.faces_s, 4)
    timings[MODEL] = round(video.model_s, 4)

    warnings: list[str] = [] if card.trained else [UNTRAINED_WARNING]
    if len(video.all_tracks) > len(tracks):
        warnings.append(
            f"{len(video.all_tracks) - len(tracks)} face track(s) seen in too few frames were "
            "not scored"
        )
    if len(frames) < n_frames:
        warnings.append(f"the video has only {len(frames)} frames; all were analysed")
    crowd = max((frame.faces_found for frame in frames), default=0)
    if crowd > MAX_FACES_PER_FRAME:
        warnings.append(
            f"up to {crowd} faces in a frame: the {MAX_FACES_PER_FRAME} largest of each frame "
            "were judged, the others are not in this report"
        )

    with staging(out_dir) as folder, ImageWriter(folder or Path()) as images:
        mark = time.perf_counter()
        notify(HEATMAPS, 0.0)
        heatmaps, overlays = _explain(frames, tracks, scored, images) if explaining else ({}, {})
        mark = lap(HEATMAPS, mark)  # the images are still being written, in the background
        notify(REPORT, 0.0)
        report_html, timeline_plot = report_file_names(
            with_files=folder is not None, has_tracks=bool(tracks)
        )
        report = build_report(
            filename=display_name or path.name,
            info=sampled.info,
            sha256=video.sha256,
            frames=frames,
            tracks=tracks,
            scored=scored,
            card=card,
            heatmaps=heatmaps,
            overlays=overlays,
            timings=timings,
            warnings=warnings,
            report_html=report_html,
            timeline_plot=timeline_plot,
            provenance=provenance,
            bits_per_pixel=video.bits_per_pixel,
        )
        if folder is not None:
            write_pages(report, folder, images)
        timings[REPORT] = round(time.perf_counter() - mark, 4)
        timings["total"] = round(time.perf_counter() - started, 4)
        report = report.model_copy(update={"timings": dict(timings)})
        if folder is not None:
            write_json(report, folder)
    notify(REPORT, 1.0)
    return report


def _explain(
    frames: list[SampledFrame],
    tracks: list[Track],
    scored: list[ScoredTrack],
    images: ImageWriter,
) -> tuple[dict[tuple[int, int], ImagePair], dict[int, ImagePair]]:
    """Queue a heatmap overlay and the plain image per face crop and per frame for writing.

    Returns:
        The face images per ``(track_id, position)`` and the frame images per position.
    """
    cams = [cam for s in scored if s.cams is not None for cam in s.cams]
    if not cams:
        return {}, {}
    heatmaps: dict[tuple[int, int], ImagePair] = {}
    per_frame: dict[int, list[tuple[tuple[int, int, int, int], np.ndarray]]] = {}
    k = 0
    for track, s in zip(tracks, scored, strict=True):
        for pos, crop, box in zip(track.positions, s.crops, s.boxes, strict=True):
            name = f"track{track.track_id}_{pos:03d}"
            heatmaps[(track.track_id, pos)] = ImagePair(
                overlay=images.render(f"heatmaps/{name}", partial(overlay, crop, cams[k])),
                plain=images.submit(f"crops/{name}", crop),
            )
            per_frame.setdefault(pos, []).append((box, cams[k]))
            k += 1
    overlays: dict[int, ImagePair] = {}
    for pos, faces in per_frame.items():
        frame = frames[pos]
        overlays[pos] = ImagePair(
            overlay=images.render(
                f"frames/frame_{pos:03d}", partial(frame_overlay, frame.preview, frame.scale, faces)
            ),
            plain=images.submit(f"frames/plain_{pos:03d}", frame.preview),
        )
    return heatmaps, overlays
