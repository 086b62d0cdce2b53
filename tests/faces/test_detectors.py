"""Both registered detectors on still pictures, generated clips and real clips."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Self

import cv2
import numpy as np
import pytest

from deepverify.defaults import DEFAULT_DETECTOR
from deepverify.errors import DetectorError
from deepverify.faces import (
    Detection,
    FaceDetector,
    RegisteredDetector,
    available_detectors,
    check_detector_name,
    create_detector,
    detector_class,
    resolve_weights,
    yunet,
)
from deepverify.faces import registry as registry_mod
from deepverify.faces.weights import WeightFile
from deepverify.geometry import iou
from deepverify.imaging import PREVIEW_MAX_SIDE, Downscaled, downscaled
from deepverify.model.files import DEFAULT_STEM, onnx_path
from deepverify.video.frames import sample_frames

# Each detector's own score threshold: no face it reports scores below it.
MIN_CONFIDENCE = {
    name: detector_class(name).default_min_confidence for name in ["opencv-ssd", "yunet"]
}


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module", params=available_detectors())
def detector(request: pytest.FixtureRequest) -> FaceDetector:
    return create_detector(request.param)


def test_registry_lists_both() -> None:
    assert available_detectors() == sorted(MIN_CONFIDENCE)
    # Each is verified by the other (the rescue pass): a registered name, not itself.
    verifiers = {n: detector_class(n).verifier for n in available_detectors()}
    assert all(v in available_detectors() and v != n for n, v in verifiers.items())
    for name in available_detectors():  # each class states its own facts, under its own name
        cls = detector_class(name)
        assert cls.name == name and 0.0 < cls.default_min_confidence < 1.0 and cls.weights
        assert all(re.fullmatch("[0-9a-f]{64}", w.sha256) for w in cls.weights.values())


def test_default_detector_is_registered() -> None:
    assert DEFAULT_DETECTOR in available_detectors()


def test_unknown_name_lists_valid_ones() -> None:
    valid = re.escape(", ".join(available_detectors()))
    with pytest.raises(
        DetectorError, match=f"unknown face detector 'mtcnn'; choose one of: {valid}$"
    ):
        create_detector("mtcnn")


def test_bad_threshold_refused() -> None:
    with pytest.raises(DetectorError, match=r"min_confidence must be in \[0, 1\], got 1\.5"):
        create_detector("yunet", min_confidence=1.5)


@pytest.mark.parametrize(
    ("image", "centre"), [("astronaut.png", (222, 118)), ("messi5.jpg", (242, 113))]
)
def test_finds_the_face(
    detector: FaceDetector, shared_data: Path, image: str, centre: tuple[int, int]
) -> None:
    found = detector.detect(_rgb(shared_data / "images" / image))
    assert len(found) == 1
    x1, y1, x2, y2 = found[0].box
    assert x1 < centre[0] < x2 and y1 < centre[1] < y2
    assert MIN_CONFIDENCE[detector.name] <= found[0].score <= 1.0


def test_no_face_in_baboon(detector: FaceDetector, shared_data: Path) -> None:
    assert detector.detect(_rgb(shared_data / "images" / "baboon.jpg")) == []


def test_boxes_in_full_resolution_and_clipped(detector: FaceDetector, shared_data: Path) -> None:
    small = _rgb(shared_data / "images" / "astronaut.png")
    big = cv2.resize(small, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    (a,) = detector.detect(small)
    (b,) = detector.detect(big)
    assert np.allclose(np.array(b.box) / 4, a.box, atol=8)
    # A face cut by the frame edge: the box stays inside the frame.
    cut = small[90:, 200:]
    for det in detector.detect(cut):
        x1, y1, x2, y2 = det.box
        assert 0 <= x1 < x2 <= cut.shape[1] and 0 <= y1 < y2 <= cut.shape[0]


def test_yunet_gives_landmarks_inside_box(shared_data: Path) -> None:
    (det,) = create_detector("yunet").detect(_rgb(shared_data / "images" / "astronaut.png"))
    assert isinstance(det, Detection) and det.landmarks is not None and len(det.landmarks) == 5
    x1, y1, x2, y2 = det.box
    assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in det.landmarks)
    right_eye, left_eye = det.landmarks[0], det.landmarks[1]
    assert right_eye[0] < left_eye[0]  # the subject's right eye is on the image's left


def test_refuses_non_rgb_input(detector: FaceDetector) -> None:
    with pytest.raises(ValueError, match="RGB uint8"):
        detector.detect(np.zeros((10, 10), np.uint8))


@pytest.mark.parametrize(
    "clip", ["liveportrait_d0.mp4", "liveportrait_d3.mp4", "liveportrait_s20.mp4"]
)
def test_face_found_in_real_clips(detector: FaceDetector, shared_data: Path, clip: str) -> None:
    _, frames = sample_frames(shared_data / "real" / clip, 6)
    found = [detector.detect(f.image) for f in frames]
    counts = [len(faces) for faces in found]
    assert sum(c >= 1 for c in counts) >= 5, counts
    assert max(counts) == 1, counts  # one person: no phantom second face
    # Where the other architecture finds the face too: the boxes must be on the same face.
    other = create_detector(detector_class(detector.name).verifier, rescue=False)
    overlaps = [
        iou(faces[0].box, reference[0].box)
        for faces, reference in zip(found, (other.detect(f.image) for f in frames), strict=True)
        if faces and reference
    ]
    assert len(overlaps) >= 4 and min(overlaps) >= 0.5, overlaps


def test_face_found_in_portrait_dfdc_clip(detector: FaceDetector, portrait_clip: Path) -> None:
    _, frames = sample_frames(portrait_clip, 4)
    assert sum(len(detector.detect(f.image)) >= 1 for f in frames) >= 3


def test_handed_copy_gives_the_same_faces(detector: FaceDetector, portrait_clip: Path) -> None:
    """A copy shrunk by the caller (the pipeline's preview) changes no box."""
    _, frames = sample_frames(portrait_clip, 3)
    for frame in frames:
        preview = downscaled(frame.image, PREVIEW_MAX_SIDE)
        assert detector.detect(frame.image, small=preview) == detector.detect(frame.image)


def test_yunet_runs_on_the_handed_copy(shared_data: Path) -> None:
    """YuNet uses a copy made at its own size instead of shrinking the frame again."""
    image = cv2.resize(_rgb(shared_data / "images" / "astronaut.png"), (1280, 1280))
    preview = downscaled(image, yunet.MAX_SIDE)
    blank = Downscaled(np.zeros_like(preview.image), preview.scale, preview.max_side)
    detector = create_detector("yunet", rescue=False)
    assert detector.detect(image, small=preview)
    assert detector.detect(image, small=blank) == []  # it looked at the copy, not the frame
    other = Downscaled(np.zeros((100, 100, 3), np.uint8), 100 / 1280, 100)
    assert detector.detect(image, small=other) == detector.detect(image)  # another size: ignored


def test_yunet_matches_opencvs_face_detector_yn(shared_data: Path, detector_dir: Path) -> None:
    """The graph on ONNX Runtime, decoded here, gives cv2.FaceDetectorYN's faces (every eval clip).

    Eval clips cover 480p to 1080p, portrait, two-face and dark frames; frames at YuNet's size.
    """
    model = detector_dir / "face_detection_yunet.onnx"
    ours = yunet.YuNetDetector(model, min_confidence=yunet.YuNetDetector.default_min_confidence)
    reference = cv2.FaceDetectorYN.create(
        str(model), "", (320, 320), ours.min_confidence, yunet.NMS_IOU, yunet.TOP_K
    )
    clips = sorted((shared_data / "eval").glob("*/*.mp4"))
    assert len(clips) >= 10
    faces = 0
    for clip in clips:
        _, frames = sample_frames(clip, 3)
        for frame in frames:
            small = downscaled(frame.image, yunet.MAX_SIDE).image
            bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
            reference.setInputSize((bgr.shape[1], bgr.shape[0]))
            _, expected = reference.detect(bgr)
            expected = np.zeros((0, 15), np.float32) if expected is None else expected
            got = ours.raw(small)
            assert got.shape == expected.shape, clip.name
            np.testing.assert_allclose(got, expected, atol=1e-3, err_msg=clip.name)
            faces += len(got)
    assert faces >= 2 * len(clips)


def test_yunet_refuses_a_graph_that_is_not_yunet(detector_dir: Path, tmp_path: Path) -> None:
    threshold = yunet.YuNetDetector.default_min_confidence
    missing = tmp_path / "none.onnx"
    with pytest.raises(DetectorError, match=r"cannot load the YuNet face detector: .* not found"):
        yunet.YuNetDetector(missing, min_confidence=threshold)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a graph")
    with pytest.raises(DetectorError, match="cannot load the YuNet face detector"):
        yunet.YuNetDetector(junk, min_confidence=threshold)
    other_graph = onnx_path(DEFAULT_STEM)  # the packaged deepfake model: an ONNX graph
    with pytest.raises(DetectorError, match="is not a YuNet face detector"):
        yunet.YuNetDetector(other_graph, min_confidence=threshold)


PLANTED = b"planted weights"


class _Planted(RegisteredDetector):
    """A detector added the documented way: its own class, one registry entry."""

    name = "planted"
    weights: ClassVar[Mapping[str, WeightFile]] = {
        "model": WeightFile(
            "planted.bin",
            "https://example.invalid/planted.bin",
            hashlib.sha256(PLANTED).hexdigest(),
        )
    }
    default_min_confidence: ClassVar[float] = 0.25
    verifier: ClassVar[str] = "yunet"

    def __init__(self, model: Path, min_confidence: float) -> None:
        self.model, self.min_confidence = model, min_confidence

    @classmethod
    def from_files(cls, files: Mapping[str, Path], *, min_confidence: float) -> Self:
        return cls(files["model"], min_confidence)

    def detect(self, image: np.ndarray, *, small: Downscaled | None = None) -> list[Detection]:
        return []


def test_a_new_detector_is_its_class_plus_one_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every check of a detector name (card, service settings, weights) reads the one registry."""
    from deepverify.model import ModelCard
    from deepverify.service.core.settings import Settings
    from deepverify.service.jobs.analysis import check_analysis_settings

    (tmp_path / "planted.bin").write_bytes(PLANTED)
    registered = dict(registry_mod._REGISTRY)
    monkeypatch.setattr(registry_mod, "_REGISTRY", {**registered, "planted": _Planted})
    assert "planted" in available_detectors() and check_detector_name("planted") == "planted"
    assert resolve_weights("planted", tmp_path) == {"model": tmp_path / "planted.bin"}
    found = create_detector("planted", model_dir=tmp_path, rescue=False)
    assert isinstance(found, _Planted) and found.min_confidence == 0.25
    assert ModelCard(detector="planted").detector == "planted"
    check_analysis_settings(Settings(detector="planted"))
    monkeypatch.setattr(registry_mod, "_REGISTRY", registered)
    with pytest.raises(DetectorError, match="unknown face detector 'planted'"):
        check_detector_name("planted")
