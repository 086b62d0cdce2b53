"""Backbone registry: the per-crop CNNs a detector can be built on.

Each entry knows how to build its network (ImageNet-initialised or random) as a module mapping
``(N, 3, S, S)`` crops to pooled ``(N, F)`` features, its feature size ``F``, its default input
size, the normalisation its ImageNet weights expect, how to run it up to its last feature map
``(N, F, h, w)`` (the map the global average pool reads, which class activation maps are made
of), and that map's layer (Grad-CAM's target, for the reference test).

Importing this module does not import torch: the registry's facts (names, sizes, normalisation)
are needed by the model card on the torch-free inference path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deepverify.errors import ModelError

if TYPE_CHECKING:
    from torch import Tensor, nn

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
# EfficientNet-Lite was trained on inputs scaled to [-1, 1] (TF: (x - 127) / 128).
HALF: tuple[float, float, float] = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class BackboneSpec:
    """What the detector needs to know about one backbone.

    Attributes:
        name: registry key, stored in model cards.
        feature_dim: size ``F`` of the pooled feature vector per crop.
        default_input_size: crop side ``S`` the ImageNet weights were trained at.
        mean: per-channel mean (RGB, on [0, 1] pixels) the ImageNet weights expect.
        std: per-channel std matching ``mean``.
        create: ``create(pretrained)`` -> module mapping ``(N, 3, S, S)`` to ``(N, F)``.
        feature_map: ``feature_map(module, crops)`` -> the last feature map ``(N, F, h, w)``;
            its mean over ``h, w`` is exactly what the module returns.
        target_layer: picks the layer whose output is that map out of a module made by
            ``create`` (Grad-CAM's target layer).
    """

    name: str
    feature_dim: int
    default_input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    create: Callable[[bool], nn.Module]
    feature_map: Callable[[nn.Module, Tensor], Tensor]
    target_layer: Callable[[nn.Module], nn.Module]


def _create_efficientnet_lite0(pretrained: bool) -> nn.Module:
    import timm
    from torch import nn

    from deepverify.model import imagenet

    # timm's "tf_" variant is the same network as "efficientnet_lite0" (same parameter names)
    # with TensorFlow "same" padding and BN eps 1e-3, which is how Google trained the weights we
    # load: with timm's PyTorch-padded variant they lose confidence and misclassify (measured).
    model: nn.Module = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if pretrained:
        imagenet.load_state_strict(model, imagenet.lite0_state_dict(), "efficientnet_lite0 weights")
    model.classifier = nn.Identity()  # the forward now returns pooled (N, 1280) features
    return model


def _create_resnext50(pretrained: bool) -> nn.Module:
    from torch import nn
    from torchvision.models import resnext50_32x4d

    from deepverify.model import imagenet

    model: nn.Module = resnext50_32x4d(weights=None)
    if pretrained:
        imagenet.load_state_strict(model, imagenet.resnext_state_dict(), "resnext50 weights")
    model.fc = nn.Identity()  # the forward now returns pooled (N, 2048) features
    return model


def _efficientnet_map(model: nn.Module, crops: Tensor) -> Tensor:
    # timm: conv_stem .. blocks .. conv_head + bn2; forward_head would average-pool this.
    fmap: Tensor = model.forward_features(crops)  # type: ignore[operator]
    return fmap


def _resnext_map(model: nn.Module, crops: Tensor) -> Tensor:
    # torchvision's ResNet.forward up to (not including) avgpool / flatten / fc.
    x = crops
    for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
        x = model.get_submodule(name)(x)
    return x


def _efficientnet_target(model: nn.Module) -> nn.Module:
    # conv_head + bn2 (BN + ReLU6): the final 1280-channel map that the global pool reads.
    layer: nn.Module = model.get_submodule("bn2")
    return layer


def _resnext_target(model: nn.Module) -> nn.Module:
    last: nn.Module = model.get_submodule("layer4")[-1]  # type: ignore[index]
    return last


_REGISTRY: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            name="efficientnet_lite0",
            feature_dim=1280,
            default_input_size=224,
            mean=HALF,
            std=HALF,
            create=_create_efficientnet_lite0,
            feature_map=_efficientnet_map,
            target_layer=_efficientnet_target,
        ),
        BackboneSpec(
            name="resnext50_32x4d",
            feature_dim=2048,
            default_input_size=224,
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            create=_create_resnext50,
            feature_map=_resnext_map,
            target_layer=_resnext_target,
        ),
    )
}

DEFAULT_BACKBONE = "efficientnet_lite0"


def available_backbones() -> list[str]:
    """Names accepted by :func:`get_backbone` (and by ``--backbone``)."""
    return list(_REGISTRY)


def get_backbone(name: str) -> BackboneSpec:
    """Look up a backbone by name.

    Raises:
        ModelError: unknown name; the message lists the valid ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        valid = ", ".join(available_backbones())
        raise ModelError(f"unknown backbone {name!r}; choose one of: {valid}") from None
