"""Face crops: the one preprocessing shared by ``scan`` and training.

A crop is the square around a face box grown by ``margin`` of the box size on each side,
padded with black where it leaves the frame, resized to ``size``; :func:`normalize` turns a batch
of crops into the network's input array (:func:`to_tensor` wraps it as a torch tensor for
training). Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch

BoxLike = Sequence[float]


def square_box(
    box: BoxLike, *, margin: float, frame_size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """The square crop window around a face box, in integer pixels.

    Side ``max(w, h) * (1 + 2 * margin)``, centred on the box. The window may extend past the
    frame (:func:`crop_face` pads that part); it is never empty.

    Args:
        box: ``(x1, y1, x2, y2)`` face box.
        margin: Fraction of the box size added on each side (>= 0).
        frame_size: ``(width, height)`` of the frame, used to keep the window touching it.

    Returns:
        ``(x1, y1, x2, y2)`` with ``x2 - x1 == y2 - y1 >= 1``.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(1, round(max(x2 - x1, y2 - y1) * (1 + 2 * margin)))
    left = round((x1 + x2) / 2 - side / 2)
    top = round((y1 + y2) / 2 - side / 2)
    width, height = frame_size
    # Keep at least one pixel of the frame inside the window.
    left = min(max(left, 1 - side), width - 1)
    top = min(max(top, 1 - side), height - 1)
    return left, top, left + side, top + side


def crop_face(image: np.ndarray, box: BoxLike, *, margin: float, size: int) -> np.ndarray:
    """Cut the square face window out of ``image`` and resize it to ``size`` x ``size``.

    Args:
        image: RGB ``uint8`` frame ``(H, W, 3)``.
        box: ``(x1, y1, x2, y2)`` face box in the frame's pixels.
        margin: Fraction of the box size added on each side.
        size: Output side in pixels.

    Returns:
        RGB ``uint8`` array ``(size, size, 3)``; parts outside the frame are black.
    """
    height, width = image.shape[:2]
    x1, y1, x2, y2 = square_box(box, margin=margin, frame_size=(width, height))
    inside = image[max(y1, 0) : min(y2, height), max(x1, 0) : min(x2, width)]
    window = cv2.copyMakeBorder(
        inside,
        max(0, -y1),
        max(0, y2 - height),
        max(0, -x1),
        max(0, x2 - width),
        cv2.BORDER_CONSTANT,
        value=(0, 0, 0),
    )
    shrink = window.shape[0] > size
    return cv2.resize(
        window, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    )


def normalize(
    crops: Sequence[np.ndarray], *, mean: Sequence[float], std: Sequence[float]
) -> np.ndarray:
    """Stack RGB ``uint8`` crops into a normalised ``float32`` array ``(N, 3, S, S)``.

    Pixels are scaled to [0, 1], then ``(x - mean) / std`` per channel.
    """
    if not crops:
        raise ValueError("normalize needs at least one crop")
    batch = np.stack(crops).astype(np.float32).transpose(0, 3, 1, 2) / np.float32(255.0)
    mean_a = np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
    std_a = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
    return np.ascontiguousarray((batch - mean_a) / std_a, dtype=np.float32)


def to_tensor(
    crops: Sequence[np.ndarray], *, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """:func:`normalize` as a torch tensor (training and the PyTorch engine)."""
    import torch

    return torch.from_numpy(normalize(crops, mean=mean, std=std))
