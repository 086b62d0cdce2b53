"""Model card: defaults from the backbone, JSON round trip, validation on load."""

from __future__ import annotations

import json
import subprocess
import sys

import pydantic
import pytest

from deepverify.defaults import DEFAULT_NUM_FRAMES
from deepverify.errors import ModelError
from deepverify.model import (
    CARD_SCHEMA_VERSION,
    IMAGENET_MEAN,
    ModelCard,
    available_backbones,
    card_path,
    default_model_path,
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
    for added in ("detector", "train_sequence_length", "onnx_sha256", "decision"):
        del data[added]
    card = ModelCard.from_dict(data)
    assert (card.detector, card.train_sequence_length, card.onnx_sha256) == ("opencv-ssd", None, "")
    # A current card must have them.
    data["schema_version"] = CARD_SCHEMA_VERSION
    with pytest.raises(ModelError, match="missing fields"):
        ModelCard.from_dict(data)


def test_schema_1_cards_were_ssd_whatever_the_default_detector_is_now():
    """A schema-1 card's crops came from the SSD: a new default detector must not relabel it."""
    data = _card_dict(schema_version=1)
    for added in ("detector", "train_sequence_length", "onnx_sha256", "decision"):
        del data[added]
    program = (
        "import json, sys\n"
        "import deepverify.defaults\n"
        "deepverify.defaults.DEFAULT_DETECTOR = 'yunet'  # as if the default had changed\n"
        "from deepverify.model.card import ModelCard\n"
        "new, old = ModelCard(), ModelCard.from_dict(json.loads(sys.argv[1]))\n"
        "print(new.detector, old.detector)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, json.dumps(data)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["yunet", "opencv-ssd"]


def test_defaults_come_from_the_backbone():
    card = ModelCard()
    spec = get_backbone(card.backbone)
    assert (card.input_size, card.mean, card.std) == (spec.default_input_size, spec.mean, spec.std)


def test_detector_is_checked_and_a_mismatch_warns():
    card = ModelCard.for_backbone("efficientnet_lite0", detector="yunet", train_sequence_length=8)
    assert card.detector_warning("yunet") is None
    assert "'opencv-ssd' differs from the model's 'yunet'" in card.detector_warning("opencv-ssd")
    with pytest.raises(ModelError, match="unknown face detector 'dlib'"):
        ModelCard.for_backbone("efficientnet_lite0", detector="dlib")
    with pytest.raises(
        ModelError,
        match=r"field 'train_sequence_length': Input should be greater than or equal to 1",
    ):
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
        (_card_dict(frames=0), "field 'frames': Input should be greater than or equal to 1"),
        (_card_dict(temperature=0.0), "field 'temperature': Input should be greater than 0"),
        (_card_dict(threshold=1.5), "field 'threshold': .* less than or equal to 1 \\(got 1.5\\)"),
        (_card_dict(std=[0.5, 0.0, 0.5]), "field 'std.1'"),
        (_card_dict(detector="dlib"), "field 'detector': unknown face detector 'dlib'"),
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


def test_card_is_frozen_and_replace_validates():
    card = ModelCard.for_backbone("efficientnet_lite0")
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        card.frames = 3  # type: ignore[misc]
    assert card.replace(frames=3).frames == 3 and card.frames == DEFAULT_NUM_FRAMES
    with pytest.raises(ModelError, match="field 'input_size'"):
        card.replace(input_size=8)


def test_packaged_card_reads_and_writes_back_byte_for_byte():
    path = default_model_path()
    assert path is not None
    text = card_path(path).read_text(encoding="utf-8")
    assert ModelCard.from_json(text).to_json() == text


def test_schema_2_cards_load_without_a_decision_policy():
    data = _card_dict(schema_version=2)
    del data["decision"]
    assert ModelCard.from_dict(data).decision is None
