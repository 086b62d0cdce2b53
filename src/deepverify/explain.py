"""Grad-CAM heatmaps of the per-crop "fake" logit (pytorch-grad-cam).

The explained network is :meth:`DeepfakeDetector.frame_model` (crop -> one logit) and the layer is
the backbone's last convolutional block. Gradients are only needed from the logit back to that
layer, so while a heatmap is computed every parameter below it is frozen; the model's training
mode and ``requires_grad`` flags are restored afterwards, and the Grad-CAM hooks are released by
using ``GradCAM`` as a context manager.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import cv2
import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from deepverify.model.network import DeepfakeDetector

# The frame model returns (N, 1) logits: output 0 is the raw "fake" logit (no softmax).
_FAKE_LOGIT = ClassifierOutputTarget(0)
# Grad-CAM flips requires_grad flags and hooks on the shared model: one call at a time, so
# concurrent callers (service threads) cannot save and restore each other's temporary state.
_GRADCAM_LOCK = threading.Lock()


@contextmanager
def preserved_state(model: nn.Module, trainable: nn.Module) -> Iterator[None]:
    """Eval mode with only ``trainable``'s parameters requiring grad; restore both on exit."""
    modes = {module: module.training for module in model.modules()}
    flags = {param: param.requires_grad for param in model.parameters()}
    try:
        model.eval()
        for param in model.parameters():
            param.requires_grad_(False)
        for param in trainable.parameters():
            param.requires_grad_(True)
        yield
    finally:
        for module, mode in modes.items():
            module.training = mode
        for param, flag in flags.items():
            param.requires_grad_(flag)
        model.zero_grad(set_to_none=True)


def gradcam(model: DeepfakeDetector, crops: torch.Tensor, *, batch_size: int = 32) -> np.ndarray:
    """Grad-CAM heatmaps of the "fake" logit for each crop.

    Args:
        model: the detector (any mode; left as it was found).
        crops: normalised crops ``(N, 3, S, S)``, as fed to the model.
        batch_size: crops per Grad-CAM pass (bounds memory).

    Returns:
        ``(N, S, S)`` float32 heatmaps, each min-max scaled to [0, 1] (all zeros where the
        gradient is zero everywhere).
    """
    if crops.ndim != 4 or crops.shape[1] != 3:
        raise ValueError(f"crops must be (N, 3, S, S), got shape {tuple(crops.shape)}")
    if crops.shape[0] == 0:
        return np.zeros((0, *crops.shape[2:]), dtype=np.float32)
    frame_model = model.frame_model()
    layer = model.gradcam_layer()
    device = next(model.parameters()).device
    heatmaps: list[np.ndarray] = []
    # Grad-CAM needs autograd even when called from inference code.
    with (
        _GRADCAM_LOCK,
        torch.inference_mode(False),
        torch.enable_grad(),
        preserved_state(model, layer),
        GradCAM(model=frame_model, target_layers=[layer]) as cam,
    ):
        for start in range(0, crops.shape[0], batch_size):
            # clone(): crops made under inference_mode cannot take part in autograd.
            batch = crops[start : start + batch_size].detach().clone().to(device)
            heatmaps.append(cam(input_tensor=batch, targets=[_FAKE_LOGIT] * batch.shape[0]))
    return np.concatenate(heatmaps).astype(np.float32, copy=False)


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
    cam = np.clip(cam, 0.0, 1.0).astype(np.float32)
    blended: np.ndarray = show_cam_on_image(
        image.astype(np.float32) / 255.0, cam, use_rgb=True, image_weight=image_weight
    )
    return blended


# Frame overlays are for looking at, not measuring: cap their size to keep PNG writing cheap.
OVERLAY_MAX_SIDE = 640


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
    # Colour the face boxes only; the rest of the frame stays as it was.
    return np.where(inside[..., None], overlay(image, heat), image)
