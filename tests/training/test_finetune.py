"""The one weight-space search (fine-tuning's interpolation and scripts/mix_checkpoints.py)."""

from __future__ import annotations

from typing import Any, cast

import pytest
import torch
from torch import nn

from deepverify.training.finetune import choose_mix, model_state
from deepverify.training.run import calibration_loader


def _mixes() -> tuple[nn.Linear, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    first = model_state(model)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.fill_(1.0)
    return model, first, model_state(model)


def test_the_best_scored_mix_is_chosen_and_left_in_the_model() -> None:
    model, first, second = _mixes()
    # A planted optimum: the score peaks where the weights are 0.25 (w = 0.25 of second).
    chosen, scores = choose_mix(
        cast(Any, model), first, second, [1.0, 0.25, 0.0, 0.5, 0.25],
        lambda m: -abs(float(m.weight.detach().mean()) - 0.25),
    )  # fmt: skip
    assert chosen == 0.25 and list(scores) == ["0", "0.25", "0.5", "1"]
    assert torch.allclose(model.weight, torch.full((1, 2), 0.25))
    assert torch.allclose(model.bias, torch.full((1,), 0.25))


def test_a_tie_goes_to_more_of_the_second_model() -> None:
    model, first, second = _mixes()
    chosen, _ = choose_mix(cast(Any, model), first, second, [0.0, 0.5, 1.0], lambda m: 1.0)
    assert chosen == 1.0 and torch.allclose(model.weight, torch.ones(1, 2))


def test_model_state_is_a_copy() -> None:
    model = nn.Linear(2, 1)
    state = model_state(model)
    with torch.no_grad():
        model.weight.add_(1.0)
    assert not torch.equal(state["weight"], model.weight)


def test_without_a_calibration_split_validation_calibrates(caplog: pytest.LogCaptureFixture):
    val = cast(Any, object())
    assert calibration_loader({"calib": []}, val, cast(Any, None), cast(Any, None)) is val
    assert "no calibration split" in caplog.text
