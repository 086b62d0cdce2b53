"""Model card: defaults from the backbone, JSON round trip, validation on load."""

from __future__ import annotations

import json

import pytest

from deepverify.errors import ModelError
from deepverify.model import (
    CARD_SCHEMA_VERSION,
    IMAGENET_MEAN,
    ModelCard,
    available_backbones,
    get_backbone,
)


def test_registry_lists_both_backbones_and_rejects_unknown_names():
    assert set(available_backbones()) == {"efficientnet_lite0", "resnext50_32x4d"}
    assert get_backbone("resnext50_32x4d").feature_dim == 2048
    with pytest.raises(ModelError, match="efficientnet_lite0, resnext50_32x4d"):
        get_backbone("vgg16")


def test_for_backbone_takes_the_backbone_normalisation():
    lite = ModelCard.for_backbone("efficientnet_lite0", frames=8)
    assert lite.mean == lite.std == (0.5, 0.5, 0.5)
    assert lite.frames == 8 and lite.input_size == 224
    assert ModelCard.for_backbone("resnext50_32x4d").mean == IMAGENET_MEAN
    assert not lite.trained


def test_plain_constructor_also_takes_the_backbone_normalisation():
    # No ImageNet defaults for EfficientNet-Lite0: it was trained on [-1, 1] inputs.
    assert ModelCard(backbone="efficientnet_lite0").mean == (0.5, 0.5, 0.5)
    assert ModelCard(backbone="resnext50_32x4d").std == get_backbone("resnext50_32x4d").std
    assert ModelCard(backbone="efficientnet_lite0", mean=(0.1, 0.2, 0.3)).mean == (0.1, 0.2, 0.3)


def test_schema_1_cards_still_load_with_the_new_fields_defaulted():
    data = _card_dict(schema_version=1)
    for added in ("detector", "train_sequence_length", "onnx_sha256"):
        del data[added]
    card = ModelCard.from_dict(data)
    assert (card.detector, card.train_sequence_length, card.onnx_sha256) == ("opencv-ssd", None, "")
    # A current card must have them.
    data["schema_version"] = CARD_SCHEMA_VERSION
    with pytest.raises(ModelError, match="missing fields"):
        ModelCard.from_dict(data)


def test_detector_is_checked_and_a_mismatch_warns():
    card = ModelCard.for_backbone("efficientnet_lite0", detector="yunet", train_sequence_length=8)
    assert card.detector_warning("yunet") is None
    assert "'opencv-ssd' differs from the model's 'yunet'" in card.detector_warning("opencv-ssd")
    with pytest.raises(ModelError, match="unknown face detector 'dlib'"):
        ModelCard.for_backbone("efficientnet_lite0", detector="dlib")
    with pytest.raises(ModelError, match="train_sequence_length"):
        ModelCard.for_backbone("efficientnet_lite0", train_sequence_length=0)


def test_json_round_trip_is_exact():
    card = ModelCard.for_backbone(
        "efficientnet_lite0", frames=8, metrics={"auc": 0.91}, training_data={"clips": 12}
    )
    data = json.loads(card.to_json())
    assert data["schema_version"] == CARD_SCHEMA_VERSION
    assert data["mean"] == [0.5, 0.5, 0.5]
    again = ModelCard.from_json(card.to_json())
    assert again == card
    assert isinstance(again.mean, tuple)


def _card_dict(**changes):
    data = ModelCard.for_backbone("efficientnet_lite0").to_dict()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_card_dict(backbone="vgg16"), "unknown backbone 'vgg16'"),
        (_card_dict(frames="many"), "'frames'"),
        (_card_dict(frames=0), "frames must be >= 1"),
        (_card_dict(temperature=0.0), "temperature must be > 0"),
        (_card_dict(threshold=1.5), "threshold 1.5 not in"),
        (_card_dict(mean=[0.5, 0.5]), "field 'mean"),
        (_card_dict(extra=1), "unknown fields \\['extra'\\]"),
        (_card_dict(schema_version=99), "schema_version 99"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_invalid_cards_raise_model_error(data, message):
    with pytest.raises(ModelError, match=message):
        ModelCard.from_dict(data)


def test_missing_fields_are_named():
    data = _card_dict()
    del data["lstm_hidden"]
    with pytest.raises(ModelError, match="missing fields \\['lstm_hidden'\\]"):
        ModelCard.from_dict(data)


def test_reading_a_missing_or_broken_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        ModelCard.read(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="not valid JSON"):
        ModelCard.read(bad)


def test_card_is_frozen():
    card = ModelCard.for_backbone("efficientnet_lite0")
    with pytest.raises(AttributeError):
        card.frames = 3  # type: ignore[misc]
