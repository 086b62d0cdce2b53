"""Clip-wide degradations: the ways real uploads lose quality, applied to real and fake alike.

Users upload phone clips, broadcasts, crowds and re-encoded social video. A small, blurry, dark
or heavily compressed face is not evidence of manipulation, so the detector must see those
degradations on real faces as often as on fakes. One :class:`Degradation` is drawn per clip and
applied to every crop of it (a video is degraded as a whole), after the crop has its model
framing and size, so both classes go through exactly the same steps.

Not albumentations' ``ReplayCompose``: replaying a draw repeats one noise map on every frame
(sensor noise must change per frame), its JPEG and downscale differ by up to 33 and 17 grey
levels, and it is no faster (a 32-crop clip with all six steps: 387 ms against 378 ms here).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from deepverify.training.sbi import jpeg_roundtrip


class AugmentConfig(BaseModel):
    """How often each degradation is drawn, and from which ranges."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hflip: float = Field(default=0.5, ge=0.0, le=1.0)  # horizontal flip
    jpeg_probability: float = Field(default=0.3, ge=0.0, le=1.0)  # JPEG re-compression
    jpeg_quality: tuple[int, int] = (60, 95)
    downscale_probability: float = Field(default=0.0, ge=0.0, le=1.0)  # a small face, upscaled
    downscale_range: tuple[float, float] = (0.3, 0.8)  # side factor before scaling back
    blur_probability: float = Field(default=0.0, ge=0.0, le=1.0)  # out of focus / motion
    blur_sigma: tuple[float, float] = (0.6, 2.0)  # Gaussian sigma, pixels at model size
    noise_probability: float = Field(default=0.0, ge=0.0, le=1.0)  # sensor noise (low light)
    noise_sigma: tuple[float, float] = (2.0, 8.0)  # in 0..255 units
    light_probability: float = Field(default=0.0, ge=0.0, le=1.0)  # dark or over-exposed
    gamma_range: tuple[float, float] = (0.6, 1.8)  # > 1 darkens


@dataclass(frozen=True)
class Degradation:
    """One clip's draw; ``None`` fields are not applied."""

    flip: bool = False
    downscale: float | None = None
    blur_sigma: float | None = None
    gamma: float | None = None
    noise_sigma: float | None = None
    jpeg_quality: int | None = None
    noise_seed: int = 0


def sample_degradation(rng: np.random.Generator, config: AugmentConfig) -> Degradation:
    """Draw one clip's degradations (a fixed number of draws, whatever is chosen)."""
    draws = rng.uniform(size=6)
    values = rng.uniform(size=5)

    def pick(range_: tuple[float, float], u: float) -> float:
        return float(range_[0] + u * (range_[1] - range_[0]))

    low, high = config.jpeg_quality
    return Degradation(
        flip=bool(draws[0] < config.hflip),
        downscale=pick(config.downscale_range, values[0])
        if draws[1] < config.downscale_probability
        else None,
        blur_sigma=pick(config.blur_sigma, values[1])
        if draws[2] < config.blur_probability
        else None,
        gamma=pick(config.gamma_range, values[2]) if draws[3] < config.light_probability else None,
        noise_sigma=pick(config.noise_sigma, values[3])
        if draws[4] < config.noise_probability
        else None,
        jpeg_quality=round(low + values[4] * (high - low))
        if draws[5] < config.jpeg_probability
        else None,
        noise_seed=int(rng.integers(2**31)),
    )


def degrade(crop: np.ndarray, d: Degradation, position: int = 0) -> np.ndarray:
    """Apply a clip's degradations to one RGB uint8 crop.

    ``position`` is the crop's index in the clip, so the sensor noise differs from frame to
    frame as it does in a video.
    """
    out = crop
    if d.flip:
        out = np.ascontiguousarray(out[:, ::-1])
    size = out.shape[1], out.shape[0]
    if d.downscale is not None:
        small = (max(8, round(size[0] * d.downscale)), max(8, round(size[1] * d.downscale)))
        out = cv2.resize(out, small, interpolation=cv2.INTER_AREA)
        out = cv2.resize(out, size, interpolation=cv2.INTER_LINEAR)
    if d.blur_sigma is not None:
        out = cv2.GaussianBlur(out, (0, 0), d.blur_sigma)
    if d.gamma is not None:
        table = (255.0 * (np.arange(256) / 255.0) ** d.gamma).round().astype(np.uint8)
        out = cv2.LUT(out, table)
    if d.noise_sigma is not None:
        rng = np.random.default_rng([d.noise_seed, position])
        noisy = rng.standard_normal(out.shape, dtype=np.float32)  # float32: half the time
        noisy *= d.noise_sigma
        noisy += out
        out = np.clip(noisy, 0, 255, out=noisy).astype(np.uint8)
    if d.jpeg_quality is not None:
        out = jpeg_roundtrip(out, d.jpeg_quality)
    return out
