"""Decoding overlapped with face detection: the same frames and crops as decoding first."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from deepverify.errors import InvalidVideoError
from deepverify.faces import Detection, create_detector
from deepverify.faces import crops as crops_mod
from deepverify.geometry import iou
from deepverify.imaging import PREVIEW_MAX_SIDE, Downscaled
from deepverify.video import decode as sampling
from deepverify.video.decode import QUEUE_FRAMES, decode_and_detect
from deepverify.video.frames import sample_frames


class _Recorder:
    """A detector that finds one fixed face and records what it was given."""

    name = "recorder"

    def __init__(self, *, fail_at: int | None = None) -> None:
        self.images: list[np.ndarray] = []
        self.fail_at = fail_at

    def detect(self, image: np.ndarray, *, small: Downscaled | None = None) -> list[Detection]:
        if self.fail_at is not None and len(self.images) == self.fail_at:
            raise RuntimeError("detector broke")
        self.images.append(image.copy())
        return [Detection(box=(100.0, 120.0, 260.0, 300.0), score=0.9)]


def _ignore(stage: str, fraction: float) -> None:
    pass


def test_same_frames_and_crops_as_decoding_first(portrait_clip: Path) -> None:
    info, frames = sample_frames(portrait_clip, 6)
    recorder = _Recorder()
    sampled = decode_and_detect(
        portrait_clip, 6, detector=recorder, margin=0.3, size=64, notify=_ignore
    )
    assert sampled.info == info
    assert [f.index for f in sampled.frames] == [f.index for f in frames]
    assert [f.timestamp for f in sampled.frames] == [f.timestamp for f in frames]
    # The detector saw the full-resolution upright frames, in order.
    assert all(np.array_equal(a, b.image) for a, b in zip(recorder.images, frames, strict=True))
    for reduced, frame in zip(sampled.frames, frames, strict=True):
        (face,) = reduced.faces
        box = face.detection.box
        expected = crops_mod.crop_face(frame.image, box, margin=0.3, size=64)
        assert np.array_equal(face.crop, expected)
        height, width = frame.image.shape[:2]
        assert face.window == crops_mod.square_box(box, margin=0.3, frame_size=(width, height))
        # Only a preview of the frame is kept, not the full-resolution image.
        assert max(reduced.preview.shape[:2]) == PREVIEW_MAX_SIDE
        assert reduced.scale == pytest.approx(PREVIEW_MAX_SIDE / max(height, width))
        assert reduced.face(face.detection) is face


def test_decoder_stays_a_few_frames_ahead(real_clip: Path, monkeypatch) -> None:
    """Frames decoded but not yet detected never exceed the queue (memory stays bounded)."""
    yielded = [0]
    ahead: list[int] = []

    class CountingStream(sampling.FrameStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            for frame in super().__iter__():
                yielded[0] += 1
                yield frame

    class Slow(_Recorder):
        def detect(self, image: np.ndarray, *, small: Downscaled | None = None) -> list[Detection]:
            threading.Event().wait(0.02)  # let the decoder run ahead as far as it can
            ahead.append(yielded[0] - len(self.images))
            return super().detect(image, small=small)

    monkeypatch.setattr(sampling, "FrameStream", CountingStream)
    sampled = decode_and_detect(real_clip, 24, detector=Slow(), margin=0.3, size=32, notify=_ignore)
    assert len(sampled.frames) == 24
    # In hand: the frame being detected, QUEUE_FRAMES queued, one the decoder waits to hand over.
    assert max(ahead) <= QUEUE_FRAMES + 2
    assert max(ahead) >= 2  # the decoder did run ahead of detection


def test_detector_error_stops_the_decoder(real_clip: Path) -> None:
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="detector broke"):
        decode_and_detect(
            real_clip, 16, detector=_Recorder(fail_at=2), margin=0.3, size=32, notify=_ignore
        )
    assert threading.active_count() == before


def test_bad_file_fails_before_any_thread(tmp_path: Path) -> None:
    bad = tmp_path / "noise.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(InvalidVideoError, match=r"noise\.mp4: not a video FFmpeg can read"):
        decode_and_detect(bad, 8, detector=_Recorder(), margin=0.3, size=32, notify=_ignore)


def test_real_detector_finds_the_face_in_every_frame(real_clip: Path) -> None:
    sampled = decode_and_detect(
        real_clip, 8, detector=create_detector("opencv-ssd"), margin=0.3, size=64, notify=_ignore
    )
    assert len(sampled.frames) == 8
    assert all(len(f.faces) == 1 for f in sampled.frames)
    # On the face: where the other architecture (YuNet) finds it in the same decoded frame, and
    # the crop is cut from that box.
    reference = create_detector("yunet", rescue=False)
    _, frames = sample_frames(real_clip, 8)
    for reduced, frame in zip(sampled.frames, frames, strict=True):
        face = reduced.faces[0]
        (expected,) = reference.detect(frame.image)
        assert iou(face.detection.box, expected.box) >= 0.5, (face.detection.box, expected.box)
        cut = crops_mod.crop_face(frame.image, face.detection.box, margin=0.3, size=64)
        assert face.crop.shape == (64, 64, 3) and np.array_equal(face.crop, cut)


def test_a_crowd_keeps_its_largest_faces_in_their_order():
    sides = (10, 50, 30, 50, 20)  # detections best first; two of the largest tie
    found = [Detection(box=(0.0, 0.0, s, s), score=1 - k / 10) for k, s in enumerate(sides)]
    assert sampling.largest(found, 3) == [found[1], found[2], found[3]]
    assert sampling.largest(found, 2) == [found[1], found[3]]
    assert sampling.largest(found, 5) == found
