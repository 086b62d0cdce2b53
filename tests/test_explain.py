"""Grad-CAM heatmaps: shape, range, non-trivial, hooks released, model state restored."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepverify.explain import gradcam, overlay
from deepverify.model import DeepfakeDetector, ModelCard, build_model

SIZE = 128  # the last feature map is 4x4: small, but enough for spatial structure


@pytest.fixture(scope="module")
def model() -> DeepfakeDetector:
    torch.manual_seed(0)
    card = ModelCard.for_backbone("efficientnet_lite0", input_size=SIZE, frames=4, lstm_hidden=16)
    return build_model(card, pretrained=False)


@pytest.fixture(scope="module")
def crops() -> torch.Tensor:
    return torch.randn(5, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2))


def _hook_count(module: torch.nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        for m in module.modules()
    )


def test_heatmaps_have_the_crop_shape_and_range(model, crops):
    cams = gradcam(model, crops)
    assert cams.shape == (5, SIZE, SIZE)
    assert cams.dtype == np.float32
    assert cams.min() >= 0.0 and cams.max() <= 1.0
    # Not constant: each heatmap has a hot spot and cold parts.
    assert all(cam.max() - cam.min() > 0.5 for cam in cams)


def test_heatmaps_do_not_depend_on_batching(model, crops):
    together = gradcam(model, crops)
    in_pairs = gradcam(model, crops, batch_size=2)
    np.testing.assert_allclose(in_pairs, together, atol=1e-4)
    # Each crop gets its own map, not a copy of the first one.
    assert np.abs(together[0] - together[1]).max() > 0.1


def test_hooks_are_released_and_state_restored(model, crops):
    model.train()
    model.lstm.requires_grad_(False)
    model.backbone.conv_stem.weight.requires_grad_(False)
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    modes = {name: m.training for name, m in model.named_modules()}
    hooks = _hook_count(model)
    try:
        gradcam(model, crops[:2])
        assert _hook_count(model) == hooks
        assert {name: p.requires_grad for name, p in model.named_parameters()} == flags
        assert {name: m.training for name, m in model.named_modules()} == modes
        assert all(p.grad is None for p in model.parameters())
    finally:
        model.eval()
        model.requires_grad_(True)


def test_state_is_restored_even_when_it_fails(model):
    flags = [p.requires_grad for p in model.parameters()]
    with pytest.raises(RuntimeError):
        gradcam(model, torch.zeros(1, 3, SIZE, SIZE, dtype=torch.float64))  # float32 weights
    assert [p.requires_grad for p in model.parameters()] == flags
    assert _hook_count(model) == 0


def test_works_inside_inference_mode(model, crops):
    with torch.inference_mode():
        inference_crops = crops[:2].clone()
        cams = gradcam(model, inference_crops)
    np.testing.assert_allclose(cams, gradcam(model, crops[:2]), atol=1e-4)


def test_bad_crops_shape_is_rejected(model):
    with pytest.raises(ValueError, match=r"\(N, 3, S, S\)"):
        gradcam(model, torch.zeros(3, SIZE, SIZE))
    assert gradcam(model, torch.zeros(0, 3, SIZE, SIZE)).shape == (0, SIZE, SIZE)


def test_overlay_blends_at_the_image_size():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    cam = np.zeros((8, 8), dtype=np.float32)
    cam[:4] = 1.0  # hot top half
    out = overlay(image, cam)
    assert out.shape == image.shape and out.dtype == np.uint8
    # JET: hot is red, cold is blue; blended over the same image, top gains red vs bottom.
    top, bottom = out[:15].astype(int), out[25:].astype(int)
    assert (top[..., 0] - top[..., 2]).mean() > (bottom[..., 0] - bottom[..., 2]).mean() + 50
    with pytest.raises(ValueError, match="RGB uint8"):
        overlay(image.astype(np.float32), cam)
