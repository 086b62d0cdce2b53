"""Heatmaps: class activation maps from the scoring pass equal Grad-CAM, and find a planted signal.

Grad-CAM (pytorch-grad-cam, the ``train`` extra) is only the reference here: the product computes
``relu(sum_k w_k A_k)`` with numpy from the feature maps the forward pass returns.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepverify.explain import activation_maps, overlay, scale_maps
from deepverify.faces.crops import normalize
from deepverify.model import (
    DeepfakeDetector,
    ModelCard,
    available_backbones,
    build_model,
    get_backbone,
)

pytest.importorskip("pytorch_grad_cam")


class FrameModel(torch.nn.Module):
    """The detector's per-crop scorer ``(N, 3, S, S)`` -> ``(N, 1)``: what Grad-CAM explains.

    It holds the detector's modules, not copies, so it always has the detector's current weights.
    """

    def __init__(self, detector: DeepfakeDetector) -> None:
        super().__init__()
        self.backbone = detector.backbone
        self.dropout = detector.dropout
        self.head = detector.frame_head

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        features = self.backbone(crops.contiguous(memory_format=torch.channels_last))
        logits: torch.Tensor = self.head(self.dropout(features))
        return logits


def gradcam_layer(detector: DeepfakeDetector) -> torch.nn.Module:
    """The backbone layer whose output is ``DetectorOutput.feature_maps`` (Grad-CAM's target)."""
    return get_backbone(detector.backbone_name).target_layer(detector.backbone)


def class_activation_maps(feature_maps: np.ndarray, weights: np.ndarray, *, size: int):
    """The heatmaps the pipeline draws: the activation maps, upsampled and scaled to [0, 1]."""
    return scale_maps(activation_maps(feature_maps, weights), size=size)


@pytest.mark.parametrize("backbone", available_backbones())
def test_frame_model_matches_the_frame_logits_and_shares_weights(backbone):
    torch.manual_seed(0)
    card = ModelCard.for_backbone(backbone, input_size=64, frames=4, lstm_hidden=16)
    model = build_model(card, pretrained=False)
    clips = torch.randn(3, 4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    frame_model = FrameModel(model)
    with torch.inference_mode():
        frame = model(clips).frame_logits
        per_crop = frame_model(clips.flatten(0, 1))
    assert per_crop.shape == (3 * 4, 1)
    torch.testing.assert_close(per_crop.view(3, 4), frame, rtol=1e-4, atol=1e-5)
    assert frame_model.head.weight.data_ptr() == model.frame_head.weight.data_ptr()


def _cams(model: DeepfakeDetector, batch: np.ndarray, weights: np.ndarray | None = None):
    with torch.inference_mode():
        out = model(torch.from_numpy(batch).unsqueeze(0))
    w = model.frame_head.weight.detach()[0].numpy() if weights is None else weights
    maps = out.feature_maps[0].numpy()
    return class_activation_maps(maps, w, size=batch.shape[-1]), out.frame_logits[0].numpy()


def _gradcam(model: DeepfakeDetector, batch: np.ndarray) -> np.ndarray:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    target = ClassifierOutputTarget(0)  # the frame model's only output: the "fake" logit
    with GradCAM(model=FrameModel(model), target_layers=[gradcam_layer(model)]) as cam:
        reference: np.ndarray = cam(
            input_tensor=torch.from_numpy(batch), targets=[target] * len(batch)
        )
    return reference


@pytest.mark.slow
@pytest.mark.parametrize("backbone", available_backbones())
def test_cam_equals_gradcam_on_real_crops(backbone, real_face_crops):
    torch.manual_seed(0)
    card = ModelCard.for_backbone(backbone, frames=len(real_face_crops), lstm_hidden=16)
    model = build_model(card, pretrained=False)  # random weights: the identity holds for any
    with torch.no_grad():  # positive head weights on (post-ReLU) features: a non-empty map
        model.frame_head.weight.abs_()
    batch = normalize(real_face_crops, mean=card.mean, std=card.std)
    cams, _ = _cams(model, batch)
    reference = _gradcam(model, batch)
    assert cams.shape == reference.shape == (len(batch), card.input_size, card.input_size)
    correlations = [
        np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(cams, reference, strict=True)
    ]
    print(f"{backbone}: CAM vs Grad-CAM correlation min {min(correlations):.6f}")  # for -s runs
    assert all(c >= 0.99 for c in correlations), correlations


def _plant(crop: np.ndarray) -> np.ndarray:
    """A high-contrast checkerboard over the top-left quadrant only."""
    planted = crop.copy()
    half = crop.shape[0] // 2
    squares = (np.indices((half, half)).sum(axis=0) // 8) % 2
    planted[:half, :half] = (squares[..., None] * 255).astype(np.uint8)
    return planted


def _top_left_share(cams: np.ndarray) -> np.ndarray:
    half = cams.shape[1] // 2
    return cams[:, :half, :half].sum(axis=(1, 2)) / np.maximum(cams.sum(axis=(1, 2)), 1e-9)


@pytest.mark.slow
def test_heatmap_mass_sits_on_the_planted_signal(real_face_crops):
    torch.manual_seed(0)
    card = ModelCard.for_backbone("efficientnet_lite0", frames=4, lstm_hidden=16)
    model = build_model(card, pretrained=True)  # ImageNet features see the checkerboard
    plain = normalize(real_face_crops, mean=card.mean, std=card.std)
    planted = normalize([_plant(c) for c in real_face_crops], mean=card.mean, std=card.std)
    # The frame head as a linear probe for the planted pattern: the difference of mean features.
    with torch.inference_mode():
        direction = model.features(torch.from_numpy(planted)).mean(0) - model.features(
            torch.from_numpy(plain)
        ).mean(0)
        model.frame_head.weight.copy_(direction[None])
    cams, logits = _cams(model, planted)
    _, plain_logits = _cams(model, plain)
    assert (logits > plain_logits).all()  # the head does detect the signal
    # The quadrant is a quarter of the crop; the heatmap puts most of its mass there.
    assert (_top_left_share(cams) > 0.6).all(), _top_left_share(cams)
    # The opposite logit's map avoids it: the test tells the sign apart.
    negated, _ = _cams(model, planted, weights=-direction.numpy())
    assert (_top_left_share(negated) < 0.25).all(), _top_left_share(negated)


def test_cam_shape_range_and_zero_maps():
    rng = np.random.default_rng(0)
    maps = rng.standard_normal((3, 8, 4, 4)).astype(np.float32)
    weights = rng.standard_normal(8).astype(np.float32)
    cams = class_activation_maps(maps, weights, size=32)
    assert cams.shape == (3, 32, 32) and cams.dtype == np.float32
    assert cams.min() >= 0.0 and cams.max() <= 1.0 + 1e-6
    assert all(cam.max() > 0.99 for cam in cams)
    # Nothing positive anywhere: an all-zero map, not noise scaled up.
    zero = class_activation_maps(np.abs(maps), -np.abs(weights), size=32)
    assert not zero.any()
    assert class_activation_maps(maps[:0], weights, size=32).shape == (0, 32, 32)
    with pytest.raises(ValueError, match=r"weights \(3,\) do not match 8 channels"):
        class_activation_maps(maps, weights[:3], size=32)


def test_overlay_blends_colour_over_the_image():
    image = np.full((20, 30, 3), 100, np.uint8)
    cam = np.zeros((5, 5), np.float32)
    cam[0, 0] = 1.0
    out = overlay(image, cam)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out[0, 0], out[-1, -1])  # hot corner differs from the cold one
    with pytest.raises(ValueError, match=r"image must be RGB uint8 \(H, W, 3\), got float32"):
        overlay(image.astype(np.float32), cam)
