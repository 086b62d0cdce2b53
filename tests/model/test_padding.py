"""TensorFlow "same" padding as constants: the same numbers and names, and only for its size."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

from timm.layers.conv2d_same import Conv2dSame  # noqa: E402

from deepverify.model import ModelCard, build_model  # noqa: E402
from deepverify.model.padding import StaticSameConv2d, static_same_padding  # noqa: E402


def _tf_lite0() -> torch.nn.Module:
    torch.manual_seed(0)
    return timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()


def test_constant_padding_gives_the_same_features_under_the_same_names() -> None:
    dynamic = _tf_lite0()
    static = copy.deepcopy(dynamic)
    assert static_same_padding(static, 64) == 5  # lite0's five strided convolutions
    crops = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(static(crops), dynamic(crops), rtol=0, atol=1e-6)
    assert list(static.state_dict()) == list(dynamic.state_dict())
    assert static_same_padding(static, 64) == 0  # nothing dynamic is left
    kinds = {type(m) for m in static.modules()}
    assert StaticSameConv2d in kinds and Conv2dSame not in kinds


def test_constant_padding_trains_like_the_dynamic_one() -> None:
    dynamic = _tf_lite0().train()
    static = copy.deepcopy(dynamic)
    static_same_padding(static, 64)
    assert static.training  # the recording pass leaves the mode as it was
    crops = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    dynamic(crops).sum().backward()
    static(crops).sum().backward()
    torch.testing.assert_close(
        static.conv_stem.weight.grad, dynamic.conv_stem.weight.grad, rtol=1e-5, atol=1e-6
    )


def test_swapping_draws_no_random_numbers() -> None:
    backbone = _tf_lite0()
    state = torch.random.get_rng_state()
    static_same_padding(backbone, 64)
    assert torch.equal(torch.random.get_rng_state(), state)  # seeded models stay as they were
    assert all(p.device.type == "cpu" for p in backbone.parameters())


def test_another_input_size_is_refused() -> None:
    static = _tf_lite0()
    static_same_padding(static, 64)
    with pytest.raises(ValueError, match="fixed for"):
        static(torch.zeros(1, 3, 65, 65))


def test_built_models_pad_with_constants() -> None:
    card = ModelCard.for_backbone("efficientnet_lite0", input_size=64, frames=8, lstm_hidden=16)
    modules = list(build_model(card, pretrained=False).modules())
    assert sum(isinstance(m, StaticSameConv2d) for m in modules) == 5
    assert not any(isinstance(m, Conv2dSame) for m in modules)
