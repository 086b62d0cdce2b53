"""The face-crop cache: ``deepverify extract`` writes it, training reads nothing else.

Each dataset item goes through the front half of ``scan`` itself —
:func:`deepverify.pipeline.find_faces` (decode, detect, crop, track) with a detector from
:func:`deepverify.faces.create_detector` — and every face is stored as a PNG crop at a *wider*
margin than the model's, plus its box in frame and crop coordinates
(:mod:`deepverify.training.cache_index` types the records). Training later cuts the model's
crop out of the cached one with ``crop_face`` again (see :mod:`deepverify.training.clips`), so
self-blending boundaries fall inside the final crop.

Layout::

    CACHE/cache.json             extraction options (a resumed run must use the same)
    CACHE/items/<item_id>.json   one record per finished item (written last, atomically)
    CACHE/crops/<item_id>/t<track>_<position>.png
    CACHE/index.json             all records plus a summary, rewritten at the end of a run

A run skips items whose record exists, so an interrupted extraction resumes where it stopped.
Unreadable videos are recorded as ``failed`` with the reason; the run goes on.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deepverify.defaults import (
    DEFAULT_EXTRACT_DETECTOR,
    DEFAULT_EXTRACT_LANDMARKS,
    DEFAULT_NUM_FRAMES,
    EXTRACT_MARGIN,
    EXTRACT_SIZE,
)
from deepverify.errors import DatasetError, DeepverifyError
from deepverify.faces import Detection, FaceDetector, create_detector
from deepverify.faces.tracks import Track, link_tracks
from deepverify.files import atomic_write_text
from deepverify.geometry import Box
from deepverify.imaging import Downscaled
from deepverify.pipeline import find_faces
from deepverify.training.cache_index import (
    CACHE_VERSION,
    STATUSES,
    CachedFrame,
    CachedTrack,
    CacheRecord,
    Points,
    Window,
    read_index,
    write_index,
)
from deepverify.training.datasets import VideoItem
from deepverify.training.landmarks import DLIB68, ShapePredictor, attach_landmarks
from deepverify.video.decode import SampledFrame, detect_frame
from deepverify.video.frames import Frame

logger = logging.getLogger(__name__)

ExtractProgress = Callable[[int, int, CacheRecord], None]
"""Called after each item with (items done, items to do, the item's record)."""
LandmarkSource = Callable[[np.ndarray, list[Detection]], list[Detection]]
"""Gives the detections of one frame (RGB) their landmarks."""


@dataclass(frozen=True)
class ExtractOptions:
    """How crops are made; stored in ``cache.json`` and checked when a run resumes.

    Attributes:
        num_frames: Frames sampled per video (uniformly over its duration, as ``scan`` does).
        detector: Detector whose boxes define the crops; use the one ``scan`` uses.
        landmark_detector: Where the landmarks of self-blending masks come from: a second
            detector (YuNet) run only to attach its five points to the boxes, ``"dlib68"``
            (:mod:`deepverify.training.landmarks`: 68 points inside each box), or None to skip.
            Boxes always come from ``detector``; when it is ``detector`` itself, its boxes
            carry their landmarks and nothing runs twice.
        margin: Crop margin of the cache, wider than any model's ``crop_margin``.
        size: Side of the cached crops (see :data:`deepverify.defaults.EXTRACT_SIZE`).
    """

    num_frames: int = DEFAULT_NUM_FRAMES
    detector: str = DEFAULT_EXTRACT_DETECTOR
    landmark_detector: str | None = DEFAULT_EXTRACT_LANDMARKS
    margin: float = EXTRACT_MARGIN
    size: int = EXTRACT_SIZE


@dataclass(frozen=True)
class ExtractSummary:
    """What a run did."""

    total: int
    skipped: int  # already in the cache (resumed)
    ok: int
    no_face: int
    failed: int
    failures: tuple[tuple[str, str], ...]  # (item id, reason)


def read_image(path: Path) -> np.ndarray:
    """Read a still image as RGB uint8 (photos are single-frame training sources).

    Raises:
        DatasetError: The file cannot be decoded as an image.
    """
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DatasetError(f"{path} is not a readable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def landmark_source(options: ExtractOptions) -> LandmarkSource | None:
    """What attaches landmarks to the boxes of ``options.detector`` (None: nothing to run).

    Raises:
        DetectorError: The landmark detector cannot be created.
        DatasetError: ``dlib68`` without dlib or its model file.
    """
    name = options.landmark_detector
    if not name or name == options.detector:
        return None
    if name == DLIB68:
        return ShapePredictor().annotate
    second = create_detector(name, rescue=False)

    def attach(image: np.ndarray, dets: list[Detection]) -> list[Detection]:
        return attach_landmarks(dets, second.detect(image))

    return attach


def _to_crop_coords(points: Sequence[tuple[float, float]], window: Window, size: int) -> Points:
    scale = size / (window[2] - window[0])
    return tuple(
        (round((x - window[0]) * scale, 2), round((y - window[1]) * scale, 2)) for x, y in points
    )


class _DetectionFailed(Exception):
    """A detector raised: a bug or a broken model, to be raised, not recorded as a bad file."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _Detecting:
    """The extraction's detector: ``scan``'s detector, plus the landmarks self-blending needs.

    Handed to the front half of ``scan`` (:func:`deepverify.pipeline.find_faces`), so the boxes
    are exactly the ones ``scan`` finds. Its failures are told apart from the media's.
    """

    def __init__(self, detector: FaceDetector, landmarks: LandmarkSource | None) -> None:
        self.base = detector
        self.landmarks = landmarks
        self.name = detector.name

    def detect(self, image: np.ndarray, *, small: Downscaled | None = None) -> list[Detection]:
        try:
            found = self.base.detect(image, small=small)
            return self.landmarks(image, found) if found and self.landmarks else found
        except Exception as exc:
            raise _DetectionFailed(exc) from exc


def _sample(
    item: VideoItem, options: ExtractOptions, detector: FaceDetector
) -> tuple[list[SampledFrame], list[Track]]:
    """The item's sampled frames, faces cut at the cache's margin and size, and its tracks."""
    if item.is_image:
        still = Frame(index=0, timestamp=0.0, image=read_image(item.path))
        frame = detect_frame(still, detector=detector, margin=options.margin, size=options.size)
        return [frame], link_tracks([frame.detections])
    sampled, tracks = find_faces(
        item.path, options.num_frames, detector=detector, margin=options.margin, size=options.size
    )
    return sampled.frames, tracks


def extract_item(
    item: VideoItem,
    cache_dir: Path,
    options: ExtractOptions,
    detector: FaceDetector,
    landmarks: LandmarkSource | None,
) -> CacheRecord:
    """Decode, detect, track and crop one item as ``scan`` does; write its crops, return its record.

    Errors from the media (corrupt or unreadable file) are recorded, never raised; the
    detector's are raised.
    """
    record = CacheRecord.of(item)
    try:
        frames, tracks = _sample(item, options, _Detecting(detector, landmarks))
    except _DetectionFailed as exc:
        raise exc.error from None
    except DeepverifyError as exc:
        return record.model_copy(update={"status": "failed", "error": str(exc)})
    except Exception as exc:  # a corrupt file may break a decoder in unforeseen ways
        error = f"{type(exc).__name__}: {exc}"
        return record.model_copy(update={"status": "failed", "error": error})
    cached_frames = tuple(
        CachedFrame(index=f.index, timestamp=round(float(f.timestamp), 4)) for f in frames
    )
    if not tracks:
        return record.model_copy(update={"status": "no_face", "frames": cached_frames})
    out_dir = cache_dir / "crops" / item.item_id
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = [_cache_track(track, frames, out_dir, item.item_id, options.size) for track in tracks]
    return record.model_copy(update={"frames": cached_frames, "tracks": tuple(entries)})


def _cache_track(
    track: Track, frames: list[SampledFrame], out_dir: Path, item_id: str, size: int
) -> CachedTrack:
    """Write one track's crops and describe them."""
    faces = [
        frames[pos].face(det) for pos, det in zip(track.positions, track.detections, strict=True)
    ]
    names = []
    for pos, face in zip(track.positions, faces, strict=True):
        name = f"t{track.track_id}_{pos:03d}.png"
        if not cv2.imwrite(str(out_dir / name), cv2.cvtColor(face.crop, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {out_dir / name}")
        names.append(f"crops/{item_id}/{name}")
    crop_boxes = []
    for face in faces:
        x1, y1, x2, y2 = face.detection.box
        (cx1, cy1), (cx2, cy2) = _to_crop_coords([(x1, y1), (x2, y2)], face.window, size)
        crop_boxes.append((cx1, cy1, cx2, cy2))
    return CachedTrack(
        track_id=track.track_id,
        positions=track.positions,
        boxes=tuple(_rounded_box(face.detection.box) for face in faces),
        scores=tuple(round(float(face.detection.score), 4) for face in faces),
        windows=tuple(face.window for face in faces),
        crop_boxes=tuple(crop_boxes),
        crop_landmarks=tuple(
            _to_crop_coords(face.detection.landmarks, face.window, size)
            if face.detection.landmarks
            else None
            for face in faces
        ),
        crops=tuple(names),
    )


def _rounded_box(box: Box) -> Box:
    x1, y1, x2, y2 = (round(float(v), 2) for v in box)
    return x1, y1, x2, y2


# Worker processes: each builds its own detectors once (OpenCV nets are not picklable).
_WORKER: dict[str, Any] = {}


def _init_worker(cache_dir: Path, options: ExtractOptions) -> None:
    cv2.setNumThreads(1)
    _WORKER["cache_dir"] = cache_dir
    _WORKER["options"] = options
    _WORKER["detector"] = create_detector(options.detector)
    _WORKER["landmarks"] = landmark_source(options)


def _work(item: VideoItem) -> CacheRecord:
    return extract_item(
        item, _WORKER["cache_dir"], _WORKER["options"], _WORKER["detector"], _WORKER["landmarks"]
    )


def _check_options(cache_dir: Path, options: ExtractOptions, dataset: dict[str, Any]) -> None:
    meta_path = cache_dir / "cache.json"
    meta = {"version": CACHE_VERSION, "options": asdict(options), "dataset": dataset}
    if meta_path.is_file():
        old = json.loads(meta_path.read_text(encoding="utf-8"))
        if old.get("version") != CACHE_VERSION or old.get("options") != meta["options"]:
            raise DatasetError(
                f"{cache_dir} holds a cache made with other options {old.get('options')}; "
                "use another --out folder or the same options"
            )
    else:
        cache_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(meta_path, json.dumps(meta, indent=2))


def extract_dataset(
    items: Sequence[VideoItem],
    cache_dir: Path,
    options: ExtractOptions | None = None,
    *,
    workers: int = 1,
    dataset: dict[str, str] | None = None,
    progress: ExtractProgress | None = None,
) -> ExtractSummary:
    """Extract face crops of ``items`` into ``cache_dir``, resuming a previous run.

    Args:
        items: Dataset items (from :func:`deepverify.training.datasets.load_dataset`).
        cache_dir: The cache folder (created).
        options: Extraction options; must equal those of an existing cache.
        workers: Worker processes (1: in this process).
        dataset: Description of the source stored in ``cache.json`` (root, format).
        progress: Called after each item.

    Raises:
        DatasetError: The cache exists with other options.
        DetectorError: The detector cannot be created.
    """
    options = options or ExtractOptions()
    _check_options(cache_dir, options, dataset or {})
    done = {p.stem for p in (cache_dir / "items").glob("*.json")}
    todo = [item for item in items if item.item_id not in done]
    counts = dict.fromkeys(STATUSES, 0)
    failures: list[tuple[str, str]] = []

    def finish(record: CacheRecord, finished: int) -> None:
        atomic_write_text(cache_dir / "items" / f"{record.item_id}.json", record.model_dump_json())
        counts[record.status] += 1
        if record.status == "failed":
            failures.append((record.item_id, record.error or ""))
            logger.warning("skipped %s: %s", record.path, record.error)
        if progress:
            progress(finished, len(todo), record)

    if workers <= 1 or len(todo) <= 1:
        _init_worker(cache_dir, options)
        for k, item in enumerate(todo, 1):
            finish(_work(item), k)
    else:
        # Detectors are built here first so a bad name fails once, in this process (an error in
        # a pool initializer would make the pool respawn workers forever).
        create_detector(options.detector)
        landmark_source(options)
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(cache_dir, options)) as pool:
            for k, record in enumerate(pool.imap_unordered(_work, todo), 1):
                finish(record, k)
    write_index(cache_dir)
    return ExtractSummary(
        total=len(items),
        skipped=len(items) - len(todo),
        ok=counts["ok"],
        no_face=counts["no_face"],
        failed=counts["failed"],
        failures=tuple(failures),
    )


__all__ = [
    "CACHE_VERSION",
    "ExtractOptions",
    "ExtractSummary",
    "extract_dataset",
    "extract_item",
    "landmark_source",
    "read_image",
    "read_index",
    "write_index",
]
