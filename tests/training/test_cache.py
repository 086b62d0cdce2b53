"""The face-crop cache: scan's own front half, resumable, corrupt files counted, typed records."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepverify.engine import load_engine
from deepverify.errors import DatasetError
from deepverify.faces import create_detector, crops
from deepverify.pipeline import score_video
from deepverify.training import landmarks
from deepverify.training.cache import (
    ExtractOptions,
    ExtractSummary,
    extract_dataset,
    extract_item,
    landmark_source,
    read_index,
)
from deepverify.training.cache_index import read_record
from deepverify.training.datasets import VideoItem, load_dataset
from deepverify.training.landmarks import DLIB68
from tests.training.conftest import TINY_EXTRACT


def test_extract_writes_crops_and_index(face_cache: tuple[Path, ExtractSummary]) -> None:
    cache, summary = face_cache
    assert (summary.total, summary.ok, summary.failed) == (6, 5, 1)
    assert summary.failures[0][0] == "fake_broken.mp4"
    index = read_index(cache)
    assert index.summary == {"ok": 5, "no_face": 0, "failed": 1}
    records = {r.item_id: r for r in index.items}
    clip = records["real_liveportrait_d8.mp4"]
    assert len(clip.frames) == 6 and clip.frames[0].index == 0
    track = clip.tracks[0]
    assert len(track.crops) == 6 and len(track.boxes) == 6
    assert all(lm is not None and len(lm) == 5 for lm in track.crop_landmarks)
    photo = records["real_photo.jpg"]
    assert len(photo.frames) == 1 and len(photo.tracks[0].crops) == 1
    assert records["fake_fake_clip.mp4"].label == 1
    assert records["fake_broken.mp4"].status == "failed" and records["fake_broken.mp4"].error


def test_cached_crop_is_the_scan_crop(
    face_cache: tuple[Path, ExtractSummary], face_dataset: Path
) -> None:
    """Cutting the model crop out of the cached one gives what crop_face gives on the frame."""
    cache, _ = face_cache
    record = json.loads((cache / "items" / "real_photo.jpg.json").read_text())
    track = record["tracks"][0]
    cached = cv2.cvtColor(cv2.imread(str(cache / track["crops"][0])), cv2.COLOR_BGR2RGB)
    assert cached.shape == (96, 96, 3)
    frame = cv2.cvtColor(cv2.imread(str(face_dataset / "real" / "photo.jpg")), cv2.COLOR_BGR2RGB)
    direct = crops.crop_face(frame, track["boxes"][0], margin=0.3, size=48).astype(np.float32)
    via_cache = crops.crop_face(cached, track["crop_boxes"][0], margin=0.3, size=48)
    via_cache = via_cache.astype(np.float32)
    # Same geometry (sub-pixel shift); only the second resampling differs a little.
    grey = [cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (direct, via_cache)]
    (dx, dy), _ = cv2.phaseCorrelate(grey[0], grey[1])
    assert abs(dx) < 1.0 and abs(dy) < 1.0
    blur = [cv2.GaussianBlur(x, (0, 0), 1.5) for x in (direct, via_cache)]
    assert np.abs(blur[0] - blur[1]).mean() < 5.0


def test_resume_skips_done_items(
    tmp_path: Path, face_dataset: Path, face_cache: tuple[Path, ExtractSummary]
) -> None:
    items = load_dataset(face_dataset, "folder")
    cache = tmp_path / "cache"
    first = extract_dataset(items[:2], cache, TINY_EXTRACT)
    assert first.skipped == 0 and first.ok == 2
    seen: list[str] = []
    again = extract_dataset(
        items, cache, TINY_EXTRACT, workers=2, progress=lambda d, t, r: seen.append(r.item_id)
    )
    assert again.skipped == 2 and again.ok + again.failed == 4
    assert sorted(seen) == sorted(i.item_id for i in items[2:])
    assert len(read_index(cache).items) == 6
    with pytest.raises(DatasetError, match="other options"):
        extract_dataset(items, cache, ExtractOptions(num_frames=3, size=96))


def test_not_a_cache(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="deepverify extract"):
        read_index(tmp_path)


def test_landmarks_come_from_the_box_detector_when_it_gives_them(face_dataset: Path) -> None:
    """YuNet boxes carry YuNet landmarks: a YuNet cache does not run YuNet twice per frame; SSD
    boxes get the five points of the YuNet face they contain."""
    assert landmark_source(ExtractOptions(detector="yunet", landmark_detector="yunet")) is None
    assert landmark_source(ExtractOptions(detector="yunet", landmark_detector=None)) is None
    frame = _photo(face_dataset)
    ssd = create_detector("opencv-ssd", rescue=False).detect(frame)
    assert ssd and all(d.landmarks is None for d in ssd)
    attach = landmark_source(ExtractOptions(detector="opencv-ssd", landmark_detector="yunet"))
    assert attach is not None
    (face,) = attach(frame, ssd)
    assert face.box == ssd[0].box and face.landmarks is not None and len(face.landmarks) == 5


def _photo(face_dataset: Path) -> np.ndarray:
    bgr = cv2.imread(str(face_dataset / "real" / "photo.jpg"))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def test_dlib68_landmarks_outline_the_face_yunet_finds(tmp_path: Path, face_dataset: Path) -> None:
    """``--landmarks dlib68``: 68 points per crop, whose eyes, nose tip and mouth corners are
    where YuNet puts its five (the two models agree on a real face, in crop coordinates)."""
    items = [i for i in load_dataset(face_dataset, "folder") if i.item_id == "real_photo.jpg"]
    options = ExtractOptions(num_frames=1, margin=0.5, size=160)
    plain, dlib = tmp_path / "yunet", tmp_path / "dlib"
    extract_dataset(items, plain, options)
    extract_dataset(items, dlib, replace(options, landmark_detector=DLIB68))
    five = np.asarray(read_index(plain).items[0].tracks[0].crop_landmarks[0])
    track = read_index(dlib).items[0].tracks[0]
    assert track.crop_boxes == read_index(plain).items[0].tracks[0].crop_boxes
    pts = np.asarray(track.crop_landmarks[0])
    assert pts.shape == (68, 2)
    x1, y1, x2, y2 = track.crop_boxes[0]
    inside = (
        (pts[:, 0] > x1 - 5) & (pts[:, 0] < x2 + 5) & (pts[:, 1] > y1 - 5) & (pts[:, 1] < y2 + 5)
    )
    assert inside.mean() > 0.9
    named = np.asarray(
        [pts[36:42].mean(0), pts[42:48].mean(0), pts[30], pts[48], pts[54]], dtype=np.float64
    )
    # YuNet names the eyes and mouth corners from the subject's side: match either order.
    flipped = named[[1, 0, 2, 4, 3]]
    error = min(
        np.linalg.norm(five - named, axis=1).max(), np.linalg.norm(five - flipped, axis=1).max()
    )
    assert error < 0.15 * (x2 - x1)  # 0.11 here; eyes to mouth is about 0.4


def test_dlib68_without_its_model_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(landmarks.ENV_MODEL, str(tmp_path / "missing.dat"))
    with pytest.raises(DatasetError, match="68-point landmark model"):
        landmark_source(ExtractOptions(landmark_detector=DLIB68))


def test_cache_crops_are_the_crops_scan_scores(
    tmp_path: Path, tiny_checkpoint: Path, real_clip: Path
) -> None:
    """``extract`` and ``scan`` share their front half: same frames, boxes and tracks, and a
    cache cut at the model's margin and size gives, cut again as training does, the very pixels
    the network scores in ``scan``."""
    engine = load_engine(tiny_checkpoint)
    card = engine.card
    options = ExtractOptions(num_frames=6, margin=card.crop_margin, size=card.input_size)
    video = score_video(
        real_clip, model=engine, detector=create_detector(options.detector), num_frames=6
    )
    item = VideoItem(real_clip, 0, "g", "clip")
    record = extract_item(
        item, tmp_path, options, create_detector(options.detector), landmark_source(options)
    )
    assert [f.index for f in record.frames] == [f.index for f in video.frames]
    assert [t.positions for t in record.tracks] == [t.positions for t in video.all_tracks]
    assert len(video.scored) == len(record.tracks) == 1
    compared = 0
    for track, scored in zip(record.tracks, video.scored, strict=True):
        for name, box, scan_crop in zip(track.crops, track.crop_boxes, scored.crops, strict=True):
            cached = cv2.cvtColor(cv2.imread(str(tmp_path / name)), cv2.COLOR_BGR2RGB)
            cut = crops.crop_face(cached, box, margin=card.crop_margin, size=card.input_size)
            assert np.array_equal(cut, scan_crop)
            compared += 1
    assert compared == 6
    # A wider cache (as extract makes by default) keeps scan's boxes and windows exactly.
    wide = ExtractOptions(num_frames=6, margin=0.5, size=96)
    record = extract_item(
        item, tmp_path / "wide", wide, create_detector(wide.detector), landmark_source(wide)
    )
    for track, scan_track in zip(record.tracks, video.all_tracks, strict=True):
        for box, window, det in zip(track.boxes, track.windows, scan_track.detections, strict=True):
            assert box == pytest.approx(det.box, abs=0.005)
            height, width = video.sampled.info.height, video.sampled.info.width
            assert window == crops.square_box(det.box, margin=0.5, frame_size=(width, height))


def test_records_keep_the_version_1_format(tmp_path: Path) -> None:
    """A record written before the records were typed reads, and writes back, unchanged."""
    old = {
        "item_id": "real_a.mp4", "path": "/data/real/a.mp4", "label": 0, "group": "a",
        "split": None, "method": "", "status": "ok", "error": None,
        "frames": [{"index": 0, "timestamp": 0.0}, {"index": 12, "timestamp": 0.48}],
        "tracks": [{
            "track_id": 0, "positions": [0, 1],
            "boxes": [[10.5, 20.0, 50.25, 70.0], [11.0, 21.0, 51.0, 71.0]],
            "scores": [0.91, 0.88], "windows": [[-10, 0, 70, 80], [-9, 1, 71, 81]],
            "crop_boxes": [[22.8, 21.0, 64.8, 73.5], [21.0, 21.0, 63.0, 73.5]],
            "crop_landmarks": [[[30.0, 40.0], [50.0, 40.0]], None],
            "crops": ["crops/real_a.mp4/t0_000.png", "crops/real_a.mp4/t0_001.png"],
        }],
    }  # fmt: skip
    path = tmp_path / "real_a.mp4.json"
    path.write_text(json.dumps(old))
    record = read_record(path)
    assert record.tracks[0].crop_landmarks[1] is None and record.frames[1].index == 12
    assert json.loads(record.model_dump_json()) == old
    path.write_text(json.dumps({**old, "tracks": [{"track_id": 0}]}))
    with pytest.raises(DatasetError, match=r"tracks\.0\.positions: Field required"):
        read_record(path)


def test_another_cache_version_asks_for_a_new_extraction(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text(json.dumps({"version": 0, "items": []}))
    with pytest.raises(DatasetError, match="version 0, expected 1; re-run `deepverify extract`"):
        read_index(tmp_path)


def test_a_broken_detector_stops_the_run(tmp_path: Path, real_clip: Path) -> None:
    """A corrupt file is recorded as failed; a detector that breaks is a bug, raised."""

    class Broken:
        name = "broken"

        def detect(self, image: np.ndarray, *, small: object = None) -> list[object]:
            raise RuntimeError("detector broke")

    item = VideoItem(real_clip, 0, "g", "clip")
    with pytest.raises(RuntimeError, match="detector broke"):
        extract_item(item, tmp_path, ExtractOptions(num_frames=2), Broken(), None)
