"""Self-blended fakes (the SBI idea): a real face blended with a jittered copy of itself.

A copy of the face (the *source*) gets a colour shift, a sharpness change, a resampling and a
small scale/translation; it is pasted back over the original (the *target*) through a soft face
mask built from the crop's landmarks (dlib's 68 points or YuNet's five) or the detection box.
The result carries the generic traces of face swapping (blending boundary, colour and frequency
mismatch) without any identity change, so a detector learns those traces from real videos
alone.

Optionally (``SBIConfig.warp_probability``) the source is also bent by a smooth random
displacement field over the face, and with YuNet's five points the mask may cover only the lower
or inner face (``SBIConfig.five_point_regions``): the geometry changes that landmark-driven
swaps, reenactment and lip sync make, beside the blending traces.

For a clip, one :class:`BlendParams` is drawn and applied to every frame of the track (geometry
relative to each frame's box), so the sequence model sees one coherent fake rather than
flickering, independent forgeries. Only ``SBIConfig.frame_jitter_probability`` makes some clips
wobble on purpose (:func:`at_frame`): the paste of a generator that makes every frame alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from deepverify.geometry import Box
from deepverify.training.landmarks import NUM_POINTS, REGIONS, region_points

Landmarks = Sequence[tuple[float, float]]


class SBIConfig(BaseModel):
    """Ranges the blend parameters are drawn from (uniformly unless stated)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hue_shift: float = 6.0  # OpenCV hue units (0..180), +-
    saturation: float = 0.2  # relative scale, +-
    value: float = 0.15  # relative scale, +-
    contrast: float = 0.15  # relative, +-
    brightness: float = 12.0  # additive, +-, in 0..255 units
    scale: float = 0.04  # source scale about the face centre, +-
    shift: float = 0.03  # source translation as a fraction of the face size, +-
    sharpen_min: float = -0.8  # < 0 blurs, > 0 sharpens (unsharp-mask amount)
    sharpen_max: float = 1.0
    resample_min: float = 0.5  # source downscaled by this factor (1: none) and back up
    mask_grow_min: float = 0.85  # mask size relative to the face region
    mask_grow_max: float = 1.15
    mask_blur_min: float = 0.02  # mask Gaussian sigma as a fraction of the face size
    mask_blur_max: float = 0.10
    hull_probability: float = 0.5  # landmark hull (when landmarks exist) rather than an ellipse
    # With 68 landmarks, the hull's region (deepverify.training.landmarks.region_points), drawn
    # uniformly from this list: the whole face twice as often as the inner or the lower face.
    hull_regions: tuple[str, ...] = ("face", "face", "inner", "lower")
    blend_ratios: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
    # With YuNet's five points, the hull's region drawn uniformly from this list ("face" only:
    # the whole-face hull of earlier recipes, and no draw is made).
    five_point_regions: tuple[str, ...] = ("face",)
    # Share of clips whose source is bent by a smooth displacement field: a grid of
    # warp_grid x warp_grid random vectors over the face box, each coordinate uniform in
    # +-warp_max x the face size, interpolated bicubically. 0 draws nothing (earlier recipes).
    warp_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    warp_max: float = Field(default=0.05, ge=0.0, le=0.3)
    warp_grid: int = Field(default=4, ge=2, le=16)
    # Share of clips whose paste wobbles from frame to frame, as when a generator makes each
    # frame's face on its own and pastes it at that frame's detection (lip sync does): every
    # frame's shift gets Gaussian noise of frame_jitter x the face size on each axis, and its
    # scale 1 + half that. 0 draws nothing (earlier recipes: one coherent paste per clip).
    frame_jitter_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    frame_jitter: float = Field(default=0.01, ge=0.0, le=0.1)

    @field_validator("hull_regions", "five_point_regions")
    @classmethod
    def _known_regions(cls, regions: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(regions) - set(REGIONS))
        if unknown or not regions:
            raise ValueError(f"hull regions must be among {', '.join(REGIONS)}; got {regions}")
        return regions


@dataclass(frozen=True)
class BlendParams:
    """One draw of blend parameters; applied identically to every frame of a clip."""

    hue_shift: float
    saturation: float
    value: float
    contrast: float
    brightness: float
    scale: float
    shift: tuple[float, float]
    sharpen: float
    resample: float
    mask_grow: tuple[float, float]
    mask_blur: float
    use_hull: bool
    blend_ratio: float
    region: str = "face"
    five_point_region: str = "face"
    # (warp_grid, warp_grid, 2) displacements as fractions of the face size, flattened; () none.
    warp: tuple[float, ...] = ()
    frame_jitter: float = 0.0  # per-frame shift noise (fraction of the face size); 0: none
    jitter_seed: int = 0  # with the frame's index, seeds that frame's noise


def sample_blend_params(rng: np.random.Generator, config: SBIConfig | None = None) -> BlendParams:
    """Draw blend parameters from the ranges of ``config``."""
    c = config or SBIConfig()

    def sym(half: float) -> float:
        return float(rng.uniform(-half, half))

    params = BlendParams(
        hue_shift=sym(c.hue_shift),
        saturation=1.0 + sym(c.saturation),
        value=1.0 + sym(c.value),
        contrast=1.0 + sym(c.contrast),
        brightness=sym(c.brightness),
        scale=1.0 + sym(c.scale),
        shift=(sym(c.shift), sym(c.shift)),
        sharpen=float(rng.uniform(c.sharpen_min, c.sharpen_max)),
        resample=float(rng.uniform(c.resample_min, 1.0)),
        mask_grow=(
            float(rng.uniform(c.mask_grow_min, c.mask_grow_max)),
            float(rng.uniform(c.mask_grow_min, c.mask_grow_max)),
        ),
        mask_blur=float(rng.uniform(c.mask_blur_min, c.mask_blur_max)),
        use_hull=bool(rng.uniform() < c.hull_probability),
        blend_ratio=float(rng.choice(np.asarray(c.blend_ratios))),
        region=str(rng.choice(np.asarray(c.hull_regions))),
    )
    # Drawn after the rest, and only when configured, so earlier recipes draw exactly as before.
    if c.five_point_regions != ("face",):
        region5 = str(rng.choice(np.asarray(c.five_point_regions)))
        params = replace(params, five_point_region=region5)
    if c.warp_probability > 0 and rng.uniform() < c.warp_probability:
        grid = rng.uniform(-c.warp_max, c.warp_max, size=(c.warp_grid, c.warp_grid, 2))
        params = replace(params, warp=tuple(float(v) for v in grid.ravel()))
    if c.frame_jitter_probability > 0 and rng.uniform() < c.frame_jitter_probability:
        seed = int(rng.integers(2**31))
        params = replace(params, frame_jitter=c.frame_jitter, jitter_seed=seed)
    return params


def at_frame(params: BlendParams, frame: int) -> BlendParams:
    """The parameters of frame ``frame`` of a clip: ``params`` with that frame's jitter.

    Without jitter, ``params`` themselves (every frame gets the same paste).
    """
    if params.frame_jitter <= 0:
        return params
    noise = np.random.default_rng([params.jitter_seed, frame]).normal(size=3)
    noise = np.clip(noise, -2.5, 2.5) * params.frame_jitter
    return replace(
        params,
        shift=(params.shift[0] + float(noise[0]), params.shift[1] + float(noise[1])),
        scale=params.scale * (1.0 + 0.5 * float(noise[2])),
        frame_jitter=0.0,
    )


def _face_size(box: Box) -> float:
    return max(1.0, float(np.sqrt(max(box[2] - box[0], 1.0) * max(box[3] - box[1], 1.0))))


def _hull_points(landmarks: Landmarks, region: str = "face") -> np.ndarray:
    """Extend YuNet's five points (eyes, nose, mouth corners) to the outline of a region.

    Five points span only the inner face. For ``face``, a forehead line above the eyes and a
    chin below the mouth make the hull cover roughly what a 68-point jaw-and-brow hull would;
    ``inner`` adds the brows and the lower lip (the jaw line kept); ``lower`` is the cheeks at
    the nose, the mouth and the chin (what reenactment and lip sync change), the eyes kept.

    Raises:
        ValueError: An unknown region.
    """
    pts = np.asarray(landmarks, dtype=np.float32)[:5]
    eyes, nose, mouth = pts[:2].mean(axis=0), pts[2], pts[3:5].mean(axis=0)
    down, across = mouth - eyes, pts[1] - pts[0]
    chin = [
        mouth + 0.8 * down,
        pts[3] + 0.4 * down + (pts[3] - mouth) * 0.6,
        pts[4] + 0.4 * down + (pts[4] - mouth) * 0.6,
    ]
    if region == "face":
        extra = [pts[0] - 0.6 * down, pts[1] - 0.6 * down, *chin]
        return np.vstack([pts, np.asarray(extra, dtype=np.float32)])
    if region == "inner":
        extra = [pts[0] - 0.35 * down, pts[1] - 0.35 * down, mouth + 0.25 * down]
        return np.vstack([pts, np.asarray(extra, dtype=np.float32)])
    if region == "lower":
        cheeks = [nose - 0.7 * across - 0.1 * down, nose + 0.7 * across - 0.1 * down]
        return np.asarray([nose, *pts[3:5], *cheeks, *chin], dtype=np.float32)
    raise ValueError(f"unknown blend region {region!r}; valid: {', '.join(REGIONS)}")


def face_mask(
    shape: tuple[int, int],
    box: Box,
    landmarks: Landmarks | None,
    params: BlendParams,
) -> np.ndarray:
    """Soft face mask, float32 in [0, 1], of ``shape`` (H, W)."""
    h, w = shape
    mask: np.ndarray = np.zeros((h, w), dtype=np.float32)
    size = _face_size(box)
    gx, gy = params.mask_grow
    if params.use_hull and landmarks is not None and len(landmarks) >= 5:
        if len(landmarks) == NUM_POINTS:
            pts = region_points(landmarks, params.region)
        else:
            pts = _hull_points(landmarks, params.five_point_region)
        centre = pts.mean(axis=0)
        pts = centre + (pts - centre) * np.array([gx, gy], dtype=np.float32)
        hull = cv2.convexHull(np.round(pts).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1.0)
    else:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        axes = (
            max(1, round((box[2] - box[0]) / 2 * gx)),
            max(1, round((box[3] - box[1]) / 2 * gy)),
        )
        cv2.ellipse(mask, (round(cx), round(cy)), axes, 0.0, 0.0, 360.0, 1.0, thickness=-1)
    sigma = max(0.5, params.mask_blur * size)
    mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma)
    clipped: np.ndarray = np.clip(mask * params.blend_ratio, 0.0, 1.0)
    return clipped


def _jitter_colour(image: np.ndarray, p: BlendParams) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = np.mod(hsv[..., 0] + p.hue_shift, 180.0)
    hsv[..., 1] *= p.saturation
    hsv[..., 2] *= p.value
    rgb = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)
    out = (rgb.astype(np.float32) - 128.0) * p.contrast + 128.0 + p.brightness
    clipped: np.ndarray = np.clip(out, 0, 255)
    return clipped


def _source_image(image: np.ndarray, box: Box, p: BlendParams) -> np.ndarray:
    """The jittered, resampled and slightly moved copy of ``image`` (float32)."""
    src = _jitter_colour(image, p)
    size = _face_size(box)
    blurred = cv2.GaussianBlur(src, (0, 0), sigmaX=max(0.5, 0.01 * size))
    src = src + p.sharpen * (src - blurred)
    h, w = image.shape[:2]
    if p.resample < 0.99:
        small = (max(1, round(w * p.resample)), max(1, round(h * p.resample)))
        src = cv2.resize(cv2.resize(src, small, interpolation=cv2.INTER_AREA), (w, h))
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    matrix = np.asarray(cv2.getRotationMatrix2D((cx, cy), 0.0, p.scale), dtype=np.float64)
    matrix[:, 2] += np.array([p.shift[0] * size, p.shift[1] * size])
    moved = cv2.warpAffine(
        src, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    return _bend(moved, box, p.warp) if p.warp else moved


def displacement(shape: tuple[int, int], box: Box, warp: Sequence[float]) -> np.ndarray:
    """The displacement field (float32 (H, W, 2), pixels) that ``warp`` puts over ``box``.

    The grid is interpolated bicubically over the box and faded to zero at its edges by a sine
    window, so the field is smooth and nothing outside the box moves.
    """
    h, w = shape
    n = round(np.sqrt(len(warp) / 2))
    grid = np.asarray(warp, dtype=np.float32).reshape(n, n, 2) * _face_size(box)
    field = np.zeros((h, w, 2), dtype=np.float32)
    x1, y1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return field
    inside = cv2.resize(grid, (x2 - x1, y2 - y1), interpolation=cv2.INTER_CUBIC)
    fade = np.outer(np.sin(np.linspace(0, np.pi, y2 - y1)), np.sin(np.linspace(0, np.pi, x2 - x1)))
    field[y1:y2, x1:x2] = inside * fade[..., None].astype(np.float32)
    return field


def _bend(image: np.ndarray, box: Box, warp: Sequence[float]) -> np.ndarray:
    h, w = image.shape[:2]
    field = displacement((h, w), box, warp)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(
        image,
        xs + field[..., 0],
        ys + field[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )


def self_blend(
    image: np.ndarray,
    box: Box,
    landmarks: Landmarks | None,
    params: BlendParams,
    frame: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Blend ``image`` with a jittered copy of itself inside a soft face mask.

    Args:
        image: RGB uint8 (H, W, 3), e.g. a face crop cached at a wide margin.
        box: Face box in ``image`` coordinates.
        landmarks: dlib's 68 or YuNet's five points in ``image`` coordinates, or None
            (box-only ellipse).
        params: Blend parameters (one draw per clip).
        frame: The frame's index in its clip (its jitter, when ``params`` have one).

    Returns:
        The blended RGB uint8 image and the mask (float32 (H, W) in [0, 1]) that was used.
    """
    params = at_frame(params, frame)
    mask = face_mask(image.shape[:2], box, landmarks, params)
    src = _source_image(image, box, params)
    alpha = mask[..., None]
    out = src * alpha + image.astype(np.float32) * (1.0 - alpha)
    return np.clip(np.round(out), 0, 255).astype(np.uint8), mask


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Re-compress an RGB image as JPEG at ``quality`` (applied to real and fake alike)."""
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:  # pragma: no cover - OpenCV encodes any valid uint8 image
        return image
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
