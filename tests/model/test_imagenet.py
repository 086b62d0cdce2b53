"""ImageNet initialisation: the mapped EfficientNet-Lite0 weights really classify pictures."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deepverify.errors import ModelError
from deepverify.faces import crops
from deepverify.model import ModelCard, build_model, imagenet

# ImageNet-1k class indices.
EXPECTED = {"baboon.jpg": 372, "butterfly.jpg": 323, "apple.jpg": 948}


def _centre_crop(path: Path, size: int) -> np.ndarray:
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    height, width = image.shape[:2]
    side = min(height, width)
    left, top = (width - side) / 2, (height - side) / 2
    # The project's own crop code: the same path face crops take at inference.
    return crops.crop_face(image, (left, top, left + side, top + side), margin=0.0, size=size)


def test_every_packaged_key_maps_to_timm():
    mapped = imagenet.lite0_state_dict()
    source = torch.load(imagenet.lite0_weights_file(), map_location="cpu", weights_only=True)
    assert len(mapped) == len(source) == 296
    assert imagenet.map_lite0_key("_blocks.15._project_conv.weight") == "blocks.6.0.conv_pwl.weight"
    assert imagenet.map_lite0_key("_blocks.0._project_conv.weight") == "blocks.0.0.conv_pw.weight"
    with pytest.raises(KeyError, match="'_unknown'"):
        imagenet.map_lite0_key("_unknown.weight")


def test_pretrained_backbone_classifies_known_pictures(shared_data):
    torch.manual_seed(0)
    card = ModelCard.for_backbone("efficientnet_lite0")
    model = build_model(card, pretrained=True)
    head = imagenet.lite0_state_dict()
    images = [_centre_crop(shared_data / "images" / name, card.input_size) for name in EXPECTED]
    batch = crops.to_tensor(images, mean=card.mean, std=card.std)
    with torch.inference_mode():
        features = model.features(batch)
        logits = features @ head["classifier.weight"].T + head["classifier.bias"]
    probs = logits.softmax(-1)
    assert probs.argmax(-1).tolist() == list(EXPECTED.values())
    assert (probs.max(-1).values > 0.3).all()


def test_random_init_does_not_load_imagenet_weights():
    torch.manual_seed(0)
    card = ModelCard.for_backbone("efficientnet_lite0", input_size=64)
    random_stem = build_model(card, pretrained=False).backbone.conv_stem.weight
    assert not torch.equal(random_stem, imagenet.lite0_state_dict()["conv_stem.weight"])


def test_resnext_without_cached_weights_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    card = ModelCard.for_backbone("resnext50_32x4d")
    with pytest.raises(ModelError, match=r"not in torch's cache.*--no-pretrained"):
        build_model(card, pretrained=True)


def test_resnext_loads_weights_from_the_hub_cache(tmp_path, monkeypatch):
    from torchvision.models import resnext50_32x4d

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    torch.manual_seed(5)
    reference = resnext50_32x4d(weights=None).state_dict()
    target = imagenet.resnext_weights_file()
    target.parent.mkdir(parents=True)
    torch.save(reference, target)
    model = build_model(ModelCard.for_backbone("resnext50_32x4d"), pretrained=True)
    assert torch.equal(model.backbone.conv1.weight, reference["conv1.weight"])
    assert torch.equal(
        model.backbone.layer4[-1].bn3.running_var, reference["layer4.2.bn3.running_var"]
    )
