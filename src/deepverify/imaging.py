"""Image helpers shared by the stages (face detection and the heatmap overlays)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PREVIEW_MAX_SIDE = 640
"""Longest side of a frame's preview: the report's images are made from it (for looking at, not
measuring: the cap keeps image writing cheap) and YuNet detects faces on it."""


@dataclass(frozen=True)
class Downscaled:
    """What :func:`downscale` made of a frame, kept so that later stages need not shrink it again.

    Attributes:
        image: The copy, its longest side at most ``max_side``.
        scale: Its factor from the frame's coordinates (<= 1), as :func:`downscale` returns it.
        max_side: The ``max_side`` it was made with.
    """

    image: np.ndarray
    scale: float
    max_side: int


def downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink ``image`` so its longest side is at most ``max_side`` (never enlarge it).

    Args:
        image: An ``(H, W)`` or ``(H, W, C)`` array.
        max_side: Largest allowed side in pixels (>= 1).

    Returns:
        The (possibly unchanged) image and ``scale`` in (0, 1]: a point ``p`` of the original is
        ``p * scale`` in the result, and a point ``q`` of the result is ``q / scale`` in the
        original.
    """
    import cv2  # here, not at import: the detector registry reads this module for `--help`

    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image, scale


def downscaled(image: np.ndarray, max_side: int) -> Downscaled:
    """:func:`downscale`, returned as a :class:`Downscaled`."""
    small, scale = downscale(image, max_side)
    return Downscaled(small, scale, max_side)
