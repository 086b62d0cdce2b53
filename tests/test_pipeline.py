"""analyze_video end to end on real clips with a tiny random-weight model."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepverify.defaults import MAX_FACES_PER_FRAME
from deepverify.engine import CropScores, Engine, load_engine
from deepverify.errors import InvalidVideoError
from deepverify.faces import create_detector
from deepverify.model.card import ModelCard
from deepverify.pipeline import UNTRAINED_WARNING, analyze_video
from deepverify.report.schema import Report
from deepverify.stages import STAGES
from tests.videos import make_video


@pytest.fixture(scope="module")
def tiny_model(tiny_checkpoint: Path) -> Engine:
    return load_engine(tiny_checkpoint)


@pytest.fixture(scope="module")
def ssd():
    return create_detector("opencv-ssd")


def test_real_clip_gives_a_full_report(tiny_model, ssd, real_clip, tmp_path):
    events: list[tuple[str, float]] = []
    out = tmp_path / "out"
    report = analyze_video(
        real_clip, model=tiny_model, detector=ssd, num_frames=12, out_dir=out,
        progress=lambda stage, fraction: events.append((stage, fraction)),
        display_name="my clip.mp4",
    )  # fmt: skip
    assert report.video.filename == "my clip.mp4"
    # An untrained model never gives a verdict, only the two-class decision at its threshold.
    assert report.verdict == "INCONCLUSIVE"
    assert [r.code for r in report.reasons] == ["untrained_model"]
    assert report.decision == ("FAKE" if report.probability >= report.threshold else "REAL")
    assert 0.0 <= report.probability <= 1.0
    assert report.threshold == tiny_model.card.threshold
    # Frames: as many as asked, in order, spread over the whole 3.1 s clip.
    times = [f.timestamp for f in report.frames]
    assert len(times) == 12
    assert times == sorted(times)
    assert times[0] < 0.3 and times[-1] > report.video.duration_s - 0.4
    # One person, seen in (nearly) every frame.
    assert len(report.tracks) == 1
    assert report.tracks[0].frames >= 11
    # Heatmaps exist, are images of the crop size, and are not blank.
    heatmaps = [face.heatmap for f in report.frames for face in f.faces]
    assert heatmaps and all(heatmaps)
    image = cv2.imread(str(out / heatmaps[0]))
    assert image.shape[:2] == (tiny_model.card.input_size,) * 2
    assert image.std() > 5
    assert all((out / f.overlay).is_file() for f in report.frames if f.faces)
    # Plain images beside the overlays, for an overlay on/off toggle.
    plain = cv2.imread(str(out / report.frames[0].faces[0].crop))
    assert plain.shape == image.shape and not np.array_equal(plain, image)
    assert all((out / f.image).is_file() for f in report.frames if f.faces)
    # Each face's crop is the plain twin of its heatmap, each frame's plain image of its overlay.
    for frame in report.frames:
        for face in frame.faces:
            assert face.heatmap.startswith("heatmaps/") and face.heatmap.endswith(".jpg")
            assert face.crop == face.heatmap.replace("heatmaps/", "crops/")
        if frame.faces:
            assert frame.image == frame.overlay.replace("frame_", "plain_")
            overlay_image = cv2.imread(str(out / frame.overlay))
            assert overlay_image.shape == cv2.imread(str(out / frame.image)).shape
            assert max(overlay_image.shape[:2]) <= 640
    # The report names exactly the images written, each once.
    written = [p for p in out.rglob("*") if p.suffix in (".jpg", ".png")]
    assert sorted(report.image_paths()) == sorted(p.relative_to(out).as_posix() for p in written)
    # Files: JSON that round-trips through the schema, a self-contained HTML page.
    assert Report.model_validate_json((out / "report.json").read_text()) == report
    html = (out / "report.html").read_text()
    assert "data:image/jpeg;base64," in html and 'src="heatmaps/' not in html
    assert "data:image/png;base64," in html  # the timeline plot stays lossless
    assert (out / "timeline.png").stat().st_size > 1000
    assert UNTRAINED_WARNING in report.warnings
    # Progress: every stage reported, ending complete, in pipeline order.
    finished = [stage for stage, fraction in events if fraction == 1.0]
    assert [s for s in STAGES if s in finished] == list(STAGES)
    assert set(report.timings) >= {*STAGES, "total"}
    assert not list(tmp_path.glob(".*partial*"))


def test_no_face_video_is_no_face(tiny_model, ssd, shared_data, tmp_path):
    clip = make_video(tmp_path / "baboon.mp4", width=256, height=256, seconds=1.0,
                      face_image=shared_data / "images" / "baboon.jpg")  # fmt: skip
    report = analyze_video(clip, model=tiny_model, detector=ssd, out_dir=tmp_path / "out")
    assert report.verdict == "INCONCLUSIVE"
    assert [r.code for r in report.reasons] == ["no_face"]
    assert report.probability is None and report.decision is None
    assert report.tracks == []
    assert "No face" in report.explanation


def test_bad_input_raises_and_leaves_nothing(tiny_model, ssd, tmp_path):
    bad = tmp_path / "noise.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    out = tmp_path / "out"
    with pytest.raises(InvalidVideoError, match=r"noise\.mp4: not a video FFmpeg can read"):
        analyze_video(bad, model=tiny_model, detector=ssd, out_dir=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noise.mp4"]


class _OneFakeTrack:
    """An engine scoring the first track it sees as real and every later one as fake."""

    name = "stub"

    def __init__(self, like: Engine) -> None:
        self.card = like.card.replace(trained=True)
        self.cam_weights = like.cam_weights
        self.calls = 0

    def score_crops(self, crops: np.ndarray) -> CropScores:
        steps, features = len(crops), len(self.cam_weights)
        return CropScores(
            frame_logits=np.zeros(steps, np.float32),
            features=np.zeros((steps, features), np.float32),
            feature_maps=np.ones((steps, features, 2, 2), np.float32),
        )

    def score_sequence(self, features: np.ndarray) -> float:
        logit = -6.0 if self.calls == 0 else 6.0
        self.calls += 1
        return logit


def test_one_fake_face_makes_the_video_fake(tiny_model, ssd, shared_data, tmp_path):
    left = cv2.imread(str(shared_data / "images" / "astronaut.png"))
    right = cv2.resize(left, (left.shape[1], left.shape[0]))
    both = tmp_path / "two.png"
    cv2.imwrite(str(both), np.concatenate([left, cv2.flip(right, 1)], axis=1))
    clip = make_video(tmp_path / "two.mp4", width=512, height=256, seconds=1.0, face_image=both)
    model = _OneFakeTrack(tiny_model)
    report = analyze_video(clip, model=model, detector=ssd, explain=False)
    assert len(report.tracks) == 2
    assert sorted(t.probability < 0.01 for t in report.tracks) == [False, True]
    assert report.verdict == "FAKE"
    assert report.probability > 0.99


def test_a_crowd_is_judged_by_its_largest_faces(tiny_model, shared_data, tmp_path):
    # 24 faces in a frame: the model sees the 16 largest of each, and the report says so.
    tile = cv2.resize(cv2.imread(str(shared_data / "images" / "astronaut.png")), (213, 180))
    crowd = tmp_path / "crowd.png"
    cv2.imwrite(str(crowd), np.tile(tile, (4, 6, 1)))
    clip = make_video(tmp_path / "crowd.mp4", width=1278, height=720, seconds=0.4, face_image=crowd)
    yunet = create_detector("yunet")
    report = analyze_video(clip, model=tiny_model, detector=yunet, explain=False)
    assert [len(frame.faces) for frame in report.frames] == [MAX_FACES_PER_FRAME] * 4
    assert (
        f"up to 24 faces in a frame: the {MAX_FACES_PER_FRAME} largest of each frame were "
        "judged, the others are not in this report"
    ) in report.warnings


class _ConstantLogit:
    """An engine that gives every track and every crop the same raw logit."""

    name = "constant"

    def __init__(self, logit: float, card: ModelCard) -> None:
        self.logit, self.card = logit, card
        self.cam_weights = np.ones(4, dtype=np.float32)

    def score_crops(self, crops: np.ndarray) -> CropScores:
        steps = crops.shape[0]
        return CropScores(
            frame_logits=np.full(steps, self.logit, dtype=np.float32),
            features=np.zeros((steps, 4), dtype=np.float32),
            feature_maps=np.zeros((steps, 4, 2, 2), dtype=np.float32),
        )

    def score_sequence(self, features: np.ndarray) -> float:
        return self.logit


@pytest.mark.parametrize(
    ("logit", "verdict"),
    [
        # sigmoid(1 / 4) = 0.562 < 0.6: REAL. Ignoring the temperature (sigmoid(1) = 0.731) or
        # the threshold (0.562 >= 0.5) would both say FAKE.
        (1.0, "REAL"),
        # sigmoid(2 / 4) = 0.622 >= 0.6: FAKE.
        (2.0, "FAKE"),
    ],
)
def test_the_card_temperature_and_threshold_decide_the_verdict(
    tiny_model, ssd, real_clip, logit, verdict
):
    card = tiny_model.card.replace(temperature=4.0, threshold=0.6, trained=True)
    model = _ConstantLogit(logit, card)
    report = analyze_video(real_clip, model=model, detector=ssd, num_frames=4, explain=False)
    expected = 1.0 / (1.0 + math.exp(-logit / 4.0))
    assert report.probability == pytest.approx(expected, abs=1e-4)
    assert report.threshold == 0.6
    assert report.verdict == verdict
    assert all(t.probability == pytest.approx(expected, abs=1e-4) for t in report.tracks)
