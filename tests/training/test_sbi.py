"""Self-blended fakes: change only the face region, softly, and consistently over a clip."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from deepverify.faces import create_detector
from deepverify.training.landmarks import ShapePredictor
from deepverify.training.sbi import (
    BlendParams,
    SBIConfig,
    at_frame,
    displacement,
    face_mask,
    jpeg_roundtrip,
    sample_blend_params,
    self_blend,
)

BOX = (60.0, 50.0, 140.0, 150.0)
LANDMARKS = ((80.0, 85.0), (120.0, 85.0), (100.0, 105.0), (85.0, 125.0), (115.0, 125.0))


def _image(shared_data: Path) -> np.ndarray:
    bgr = cv2.imread(str(shared_data / "images" / "astronaut.png"))
    return cv2.cvtColor(cv2.resize(bgr, (200, 200)), cv2.COLOR_BGR2RGB)


def _params(**changes: object) -> BlendParams:
    base = sample_blend_params(np.random.default_rng(0))
    return BlendParams(**{**base.__dict__, **changes})


def test_blend_changes_face_not_background(shared_data: Path) -> None:
    image = _image(shared_data)
    params = _params(hue_shift=5.0, value=1.1, blend_ratio=1.0, mask_blur=0.05, use_hull=True)
    out, mask = self_blend(image, BOX, LANDMARKS, params)
    assert out.shape == image.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - image.astype(int)).sum(axis=2)
    inside, outside = mask > 0.9, mask < 1e-4
    assert inside.sum() > 500 and outside.sum() > 10000
    assert diff[inside].mean() > 5.0
    assert diff[outside].max() <= 1
    # Soft edge: a band of intermediate alpha between face and background.
    assert ((mask > 0.1) & (mask < 0.9)).sum() > 200


def test_mask_follows_box_and_shape_choice() -> None:
    params = _params(use_hull=False, mask_grow=(1.0, 1.0), mask_blur=0.02, blend_ratio=1.0)
    mask = face_mask((200, 200), BOX, None, params)
    ys, xs = np.nonzero(mask > 0.5)
    assert abs(xs.mean() - 100) < 2 and abs(ys.mean() - 100) < 2
    moved = face_mask((200, 200), (80.0, 50.0, 160.0, 150.0), None, params)
    assert abs(np.nonzero(moved > 0.5)[1].mean() - 120) < 2
    hull = face_mask(
        (200, 200), BOX, LANDMARKS, _params(use_hull=True, mask_grow=(1.0, 1.0), blend_ratio=1.0)
    )
    assert hull[100, 100] > 0.9 and hull[5, 5] == 0.0
    half = face_mask(
        (200, 200), BOX, None, _params(use_hull=False, blend_ratio=0.5, mask_blur=0.02)
    )
    assert abs(half.max() - 0.5) < 1e-3


def test_same_params_same_fake_across_frames(shared_data: Path) -> None:
    image = _image(shared_data)
    params = sample_blend_params(np.random.default_rng(7))
    a, _ = self_blend(image, BOX, LANDMARKS, params)
    b, _ = self_blend(image, BOX, LANDMARKS, params)
    assert np.array_equal(a, b)
    shifted = np.roll(image, 10, axis=1)
    box2 = (BOX[0] + 10, BOX[1], BOX[2] + 10, BOX[3])
    lm2 = tuple((x + 10, y) for x, y in LANDMARKS)
    c, _ = self_blend(shifted, box2, lm2, params)
    # The fake moves with the face: the same pixels change, shifted by the same amount.
    assert (
        np.abs(
            c[40:160, 60:150].astype(int) - np.roll(a, 10, axis=1)[40:160, 60:150].astype(int)
        ).mean()
        < 2.0
    )


def test_sampled_params_within_ranges() -> None:
    cfg = SBIConfig(hue_shift=2.0, scale=0.01, blend_ratios=(1.0,))
    rng = np.random.default_rng(1)
    draws = [sample_blend_params(rng, cfg) for _ in range(200)]
    assert all(abs(p.hue_shift) <= 2.0 and abs(p.scale - 1) <= 0.01 for p in draws)
    assert {p.blend_ratio for p in draws} == {1.0}
    assert len({p.use_hull for p in draws}) == 2


def test_jpeg_roundtrip_is_lossy_but_close(shared_data: Path) -> None:
    image = _image(shared_data)
    out = jpeg_roundtrip(image, 50)
    err = np.abs(out.astype(int) - image.astype(int)).mean()
    assert out.shape == image.shape and 0.5 < err < 15


def _assert_regions(cover: Callable[[str], list[float]]) -> None:
    """``cover(region)`` is the mask at (an eye, the mouth, the chin): the face covers all
    three, the inner face the eye and the mouth, the lower face the mouth and the chin."""
    assert all(v > 0.9 for v in cover("face"))
    inner_eye, inner_mouth, inner_chin = cover("inner")
    assert inner_eye > 0.9 and inner_mouth > 0.9 and inner_chin < 0.1
    lower_eye, lower_mouth, lower_chin = cover("lower")
    assert lower_eye < 0.1 and lower_mouth > 0.9 and lower_chin > 0.9


def test_68_point_regions_cover_their_part_of_the_face(shared_data: Path) -> None:
    """With dlib's 68 points the mask is the region drawn: the whole face, the inner face
    (eyes to mouth, not the chin), or the lower face (mouth and jaw, not the eyes)."""
    image = _image(shared_data)
    (face,) = create_detector("yunet", rescue=False).detect(image)
    pts = np.asarray(ShapePredictor().points(image, face.box))
    eye, mouth = pts[36:48].mean(axis=0), pts[48:68].mean(axis=0)
    below_lip = (pts[57] + pts[8]) / 2  # between the lower lip and the chin

    def cover(region: str) -> list[float]:
        params = _params(
            use_hull=True, region=region, mask_grow=(1.0, 1.0), mask_blur=0.02, blend_ratio=1.0
        )
        mask = face_mask(image.shape[:2], face.box, [tuple(p) for p in pts], params)
        return [float(mask[round(y), round(x)]) for x, y in (eye, mouth, below_lip)]

    _assert_regions(cover)


def test_unknown_hull_region_is_refused() -> None:
    with pytest.raises(ValidationError, match="hull regions"):
        SBIConfig(hull_regions=("face", "ears"))
    drawn = {sample_blend_params(np.random.default_rng(s)).region for s in range(40)}
    assert drawn == {"face", "inner", "lower"}


def test_five_point_regions_cover_their_part_of_the_face() -> None:
    """With YuNet's five points the lower region keeps the eyes and covers mouth and chin; the
    inner region covers eyes and mouth but not the chin."""
    eye, mouth, chin = (86, 88), (100, 125), (100, 150)

    def cover(region: str) -> list[float]:
        params = _params(use_hull=True, five_point_region=region, mask_grow=(1.0, 1.0),
                         mask_blur=0.01, blend_ratio=1.0)  # fmt: skip
        mask = face_mask((200, 200), BOX, LANDMARKS, params)
        return [float(mask[y, x]) for x, y in (eye, mouth, chin)]

    _assert_regions(cover)


def test_default_config_draws_as_before() -> None:
    """Without warp or five-point regions configured, no extra draw is made: the generator is
    where it was, so earlier recipes' clips stay the same."""
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    params = sample_blend_params(a)
    assert params.warp == () and params.five_point_region == "face"
    sample_blend_params(b, SBIConfig(warp_probability=1.0, five_point_regions=("lower",)))
    after_default, after_new = a.uniform(), b.uniform()
    assert after_default != after_new
    c = np.random.default_rng(3)
    assert sample_blend_params(c, SBIConfig()) == params and c.uniform() == after_default


def test_warp_bends_the_face_only(shared_data: Path) -> None:
    """A warp moves pixels inside the face box, smoothly, and nothing outside it; the same
    params give the same fake."""
    image = _image(shared_data)
    cfg = SBIConfig(warp_probability=1.0, warp_max=0.08)
    params = sample_blend_params(np.random.default_rng(5), cfg)
    assert len(params.warp) == 2 * cfg.warp_grid**2
    assert max(abs(v) for v in params.warp) <= 0.08
    params = replace(params, blend_ratio=1.0, mask_blur=0.03)
    plain = replace(params, warp=())
    bent, mask = self_blend(image, BOX, LANDMARKS, params)
    flat, _ = self_blend(image, BOX, LANDMARKS, plain)
    diff = np.abs(bent.astype(int) - flat.astype(int)).sum(axis=2)
    assert diff[mask > 0.9].mean() > 3.0
    assert diff[mask < 1e-4].max() == 0
    again, _ = self_blend(image, BOX, LANDMARKS, params)
    assert np.array_equal(bent, again)
    field = displacement((200, 200), BOX, params.warp)
    size = np.sqrt((BOX[2] - BOX[0]) * (BOX[3] - BOX[1]))
    assert np.abs(field).max() <= 0.08 * size * 1.3  # bicubic overshoot is small
    assert np.abs(field[:45]).max() == 0 and np.abs(field[:, 145:]).max() == 0
    assert np.abs(field[100, 100]).max() > 0
    shares = [bool(sample_blend_params(np.random.default_rng(s), SBIConfig(
        warp_probability=0.5)).warp) for s in range(200)]  # fmt: skip
    assert 70 < sum(shares) < 130


def test_frame_jitter_moves_the_paste_from_frame_to_frame(shared_data: Path) -> None:
    """With jitter, each frame's paste is shifted by its own noise, the same on every render;
    without it, every frame gets the clip's one paste."""
    image = _image(shared_data)
    cfg = SBIConfig(frame_jitter_probability=1.0, frame_jitter=0.02)
    params = replace(sample_blend_params(np.random.default_rng(2), cfg), blend_ratio=1.0)
    assert params.frame_jitter == 0.02
    frames = [at_frame(params, k) for k in range(4)]
    assert len({f.shift for f in frames}) == 4 and all(f.frame_jitter == 0 for f in frames)
    size = np.sqrt((BOX[2] - BOX[0]) * (BOX[3] - BOX[1]))
    moves = [abs(f.shift[0] - params.shift[0]) * size for f in frames]
    assert max(moves) <= 2.5 * 0.02 * size and max(moves) > 0.05
    a0, _ = self_blend(image, BOX, LANDMARKS, params, 0)
    a1, _ = self_blend(image, BOX, LANDMARKS, params, 1)
    assert not np.array_equal(a0, a1)
    assert np.array_equal(a1, self_blend(image, BOX, LANDMARKS, params, 1)[0])
    steady = replace(params, frame_jitter=0.0)
    assert at_frame(steady, 3) is steady
    s0, _ = self_blend(image, BOX, LANDMARKS, steady, 0)
    assert np.array_equal(s0, self_blend(image, BOX, LANDMARKS, steady, 1)[0])
