"""The detector's shapes, and proof that its LSTM steps over time, not over the batch.

Every test runs for every registered backbone (random weights, small input).
"""

from __future__ import annotations

import pytest
import torch

from deepverify.model import DeepfakeDetector, ModelCard, available_backbones, build_model

SIZE, FRAMES = 64, 4


@pytest.fixture(scope="module", params=available_backbones())
def model(request: pytest.FixtureRequest) -> DeepfakeDetector:
    torch.manual_seed(0)
    card = ModelCard.for_backbone(request.param, input_size=SIZE, frames=FRAMES, lstm_hidden=16)
    return build_model(card, pretrained=False)


@pytest.fixture(scope="module")
def clips() -> torch.Tensor:
    return torch.randn(3, FRAMES, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


def _run(model: DeepfakeDetector, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.inference_mode():
        out = model(clips)
    return out.video_logits, out.frame_logits


def test_output_shapes_and_eval_mode(model, clips):
    video, frame = _run(model, clips)
    assert not model.training
    assert video.shape == (3,)
    assert frame.shape == (3, FRAMES)
    assert torch.isfinite(video).all() and torch.isfinite(frame).all()
    assert model.lstm.batch_first


def test_permuting_the_batch_permutes_the_outputs(model, clips):
    video, frame = _run(model, clips)
    order = torch.tensor([2, 0, 1])
    video_p, frame_p = _run(model, clips[order])
    torch.testing.assert_close(video_p, video[order], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(frame_p, frame[order], rtol=1e-4, atol=1e-5)


def test_a_clip_does_not_depend_on_the_rest_of_the_batch(model, clips):
    video, frame = _run(model, clips)
    alone_video, alone_frame = _run(model, clips[1:2])
    torch.testing.assert_close(alone_video, video[1:2], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(alone_frame, frame[1:2], rtol=1e-4, atol=1e-5)


def test_frame_order_changes_the_video_logit_but_not_the_frame_logits(model, clips):
    video, frame = _run(model, clips)
    reverse = torch.arange(FRAMES - 1, -1, -1)
    video_r, frame_r = _run(model, clips[:, reverse])
    # Per-crop scores only move with their crop...
    torch.testing.assert_close(frame_r, frame[:, reverse], rtol=1e-4, atol=1e-5)
    # ...but the sequence model sees a different sequence.
    assert (video_r - video).abs().min() > 1e-5


def test_every_frame_reaches_the_video_logit(model, clips):
    video, _ = _run(model, clips)
    for step in (0, FRAMES - 1):
        changed = clips.clone()
        changed[:, step] = torch.randn_like(changed[:, step])
        video_c, _ = _run(model, changed)
        assert (video_c - video).abs().min() > 1e-5, f"frame {step} is ignored"


def test_any_sequence_length_is_accepted(model, clips):
    video, frame = _run(model, clips[:, :1])
    assert video.shape == (3,) and frame.shape == (3, 1)


def test_wrong_input_rank_is_rejected(model):
    with pytest.raises(ValueError, match=r"\(B, T, 3, S, S\)"):
        model(torch.zeros(2, 3, SIZE, SIZE))


@pytest.mark.parametrize("backbone", available_backbones())
def test_gradients_reach_both_heads_and_the_lstm_in_training_mode(backbone: str) -> None:
    torch.manual_seed(0)
    card = ModelCard.for_backbone(backbone, input_size=32, lstm_hidden=8)
    model = build_model(card, pretrained=False).train()
    out = model(torch.randn(2, 2, 3, 32, 32))
    (out.video_logits.sum() + out.frame_logits.sum()).backward()
    for name in ("frame_head.weight", "video_head.weight", "lstm.weight_ih_l0"):
        grad = model.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name
