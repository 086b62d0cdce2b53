"""The network, its model card and checkpoints.

Public API::

    card = ModelCard.for_backbone("efficientnet_lite0", frames=32)
    model = build_model(card, pretrained=True)
    card = save_checkpoint(model, card, Path("m.safetensors"))   # + m.json
    model, card = load_checkpoint(Path("m.safetensors"))

The card, the backbone registry's facts and the file layout are torch-free; the network and
checkpoints need the ``train`` extra (PyTorch) and are imported on first use, so importing this
package on the inference path (ONNX Runtime) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from deepverify.model.backbones import (
    DEFAULT_BACKBONE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    BackboneSpec,
    available_backbones,
    get_backbone,
)
from deepverify.model.card import CARD_SCHEMA_VERSION, ModelCard
from deepverify.model.files import card_path, default_model_path

if TYPE_CHECKING:
    from deepverify.model.checkpoint import load_checkpoint, save_checkpoint
    from deepverify.model.network import (
        DeepfakeDetector,
        DetectorOutput,
        build_model,
    )

# Torch-backed names -> the module defining them, imported when first asked for.
_LAZY = {
    "load_checkpoint": "deepverify.model.checkpoint",
    "save_checkpoint": "deepverify.model.checkpoint",
    "DeepfakeDetector": "deepverify.model.network",
    "DetectorOutput": "deepverify.model.network",
    "build_model": "deepverify.model.network",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "CARD_SCHEMA_VERSION",
    "DEFAULT_BACKBONE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "BackboneSpec",
    "DeepfakeDetector",
    "DetectorOutput",
    "ModelCard",
    "available_backbones",
    "build_model",
    "card_path",
    "default_model_path",
    "get_backbone",
    "load_checkpoint",
    "save_checkpoint",
]
