"""The network, its model card and checkpoints.

Public API::

    card = ModelCard.for_backbone("efficientnet_lite0", frames=32)
    model = build_model(card, pretrained=True)
    card = save_checkpoint(model, card, Path("m.safetensors"))   # + m.json
    model, card = load_checkpoint(Path("m.safetensors"))
"""

from deepverify.model.backbones import (
    DEFAULT_BACKBONE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    BackboneSpec,
    available_backbones,
    get_backbone,
)
from deepverify.model.card import CARD_SCHEMA_VERSION, ModelCard
from deepverify.model.checkpoint import (
    card_path,
    default_model_path,
    load_checkpoint,
    save_checkpoint,
)
from deepverify.model.network import DeepfakeDetector, DetectorOutput, FrameModel, build_model

__all__ = [
    "CARD_SCHEMA_VERSION",
    "DEFAULT_BACKBONE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "BackboneSpec",
    "DeepfakeDetector",
    "DetectorOutput",
    "FrameModel",
    "ModelCard",
    "available_backbones",
    "build_model",
    "card_path",
    "default_model_path",
    "get_backbone",
    "load_checkpoint",
    "save_checkpoint",
]
