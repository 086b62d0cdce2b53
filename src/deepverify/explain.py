"""Heatmaps of the per-crop "fake" logit: class activation maps from the scoring pass.

The frame head is linear on the spatial mean of the backbone's last feature map ``A`` (``F``
channels): ``logit = sum_k w_k mean(A_k) + b``. Grad-CAM weights each channel by the mean
gradient of the logit over the map, which here is ``w_k / (h * w)`` for every crop, so Grad-CAM at
that layer equals the class activation map ``relu(sum_k w_k A_k)`` up to a positive factor that
the min-max scaling removes. The maps are therefore computed with numpy from the feature maps the
scoring pass already returns: no second forward pass, no gradients, no torch.
(``tests/test_explain.py`` checks this against pytorch-grad-cam's ``GradCAM``.)
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

_EPS = 1e-7  # keeps an all-zero map at zero when scaling


def activation_maps(feature_maps: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The unscaled maps ``relu(sum_k w_k A_k)`` of a linear head on globally pooled features.

    Small (``h * w`` values per crop): the pipeline keeps these instead of the feature maps.

    Args:
        feature_maps: ``(N, F, h, w)`` last feature maps of the crops.
        weights: ``(F,)`` the head's weights (the "fake" logit's row).

    Returns:
        ``(N, h, w)`` float32 maps.

    Raises:
        ValueError: the shapes are not ``(N, F, h, w)`` and ``(F,)``.
    """
    if feature_maps.ndim != 4:
        raise ValueError(f"feature_maps must be (N, F, h, w), got shape {feature_maps.shape}")
    if weights.shape != (feature_maps.shape[1],):
        raise ValueError(f"weights {weights.shape} do not match {feature_maps.shape[1]} channels")
    cams = np.einsum("nfhw,f->nhw", feature_maps.astype(np.float32), weights.astype(np.float32))
    positive: np.ndarray = np.maximum(cams, 0.0)
    return positive


def scale_maps(cams: np.ndarray, *, size: int) -> np.ndarray:
    """Upsample :func:`activation_maps` ``(N, h, w)`` to ``(N, size, size)``, each in [0, 1].

    Each map is bilinearly resized, then min-max scaled (all zeros where nothing is positive).
    """
    if len(cams) == 0:
        return cams.reshape(0, size, size)
    if cams.shape[1:] != (size, size):
        cams = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_LINEAR) for c in cams])
    # Scaled after resizing, so every non-empty map reaches exactly 1.
    cams = cams - cams.min(axis=(1, 2), keepdims=True)
    cams /= _EPS + cams.max(axis=(1, 2), keepdims=True)
    return cams


def overlay(image: np.ndarray, cam: np.ndarray, *, image_weight: float = 0.5) -> np.ndarray:
    """Blend a heatmap (JET colours) over an RGB image.

    Args:
        image: RGB uint8 ``(H, W, 3)``.
        cam: heatmap ``(h, w)`` in [0, 1]; resized to the image if needed.
        image_weight: share of the image in the blend.

    Returns:
        RGB uint8 ``(H, W, 3)``.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be RGB uint8 (H, W, 3), got {image.dtype} {image.shape}")
    if cam.ndim != 2:
        raise ValueError(f"cam must be 2-D (h, w), got shape {cam.shape}")
    height, width = image.shape[:2]
    if cam.shape != (height, width):
        cam = cv2.resize(cam, (width, height), interpolation=cv2.INTER_LINEAR)
    levels = (255 * np.clip(cam, 0.0, 1.0)).astype(np.uint8)
    heat = cv2.applyColorMap(levels, cv2.COLORMAP_JET)
    heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    blended = (1 - image_weight) * heat + image_weight * (image.astype(np.float32) / 255.0)
    blended /= max(float(blended.max()), _EPS)
    overlay: np.ndarray = (255 * blended).astype(np.uint8)
    return overlay


def frame_overlay(
    image: np.ndarray,
    scale: float,
    faces: Sequence[tuple[tuple[int, int, int, int], np.ndarray]],
) -> np.ndarray:
    """Paste each face's CAM back into a (downscaled) frame and colour the face boxes only.

    Args:
        image: The frame, RGB uint8, already scaled by ``scale``.
        scale: The factor from full-resolution coordinates to ``image``.
        faces: ``(square crop box in full-resolution pixels, CAM of that crop)`` per face.
    """
    out_h, out_w = int(image.shape[0]), int(image.shape[1])
    heat = np.zeros((out_h, out_w), dtype=np.float32)
    inside = np.zeros((out_h, out_w), dtype=bool)
    for (x1, y1, x2, y2), cam in faces:
        sx1, sy1, sx2, sy2 = (round(v * scale) for v in (x1, y1, x2, y2))
        if sx2 <= sx1 or sy2 <= sy1:
            continue
        resized = cv2.resize(cam, (sx2 - sx1, sy2 - sy1), interpolation=cv2.INTER_LINEAR)
        # The square box may extend past the frame edge (the crop was padded there).
        cx1, cy1 = max(sx1, 0), max(sy1, 0)
        cx2, cy2 = min(sx2, out_w), min(sy2, out_h)
        if cx2 <= cx1 or cy2 <= cy1:
            continue
        patch = resized[cy1 - sy1 : cy2 - sy1, cx1 - sx1 : cx2 - sx1]
        heat[cy1:cy2, cx1:cx2] = np.maximum(heat[cy1:cy2, cx1:cx2], patch)
        inside[cy1:cy2, cx1:cx2] = True
    # Colour the face boxes only (blending just the rectangle around them: most of a frame is
    # not a face); the rest of the frame stays as it was.
    out = image.copy()
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if rows.size:
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        blended = overlay(np.ascontiguousarray(image[box]), heat[box])
        out[box] = np.where(inside[box][..., None], blended, image[box])
    return out
