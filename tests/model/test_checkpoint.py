"""Checkpoints: weights + card written together, verified when read."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from deepverify.errors import ModelError
from deepverify.model import (
    ModelCard,
    build_model,
    card_path,
    default_model_path,
    files,
    load_checkpoint,
    save_checkpoint,
)


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[Path, ModelCard, torch.nn.Module]:
    torch.manual_seed(3)
    card = ModelCard.for_backbone("efficientnet_lite0", input_size=64, frames=4, lstm_hidden=16)
    model = build_model(card, pretrained=False)
    path = tmp_path / "ckpt" / "m.safetensors"
    return path, save_checkpoint(model, card, path), model


def test_save_fills_the_card_and_load_restores_the_model(saved):
    path, card, model = saved
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert card.weights_sha256 == sha
    assert card.model_id == f"efficientnet_lite0-{sha[:12]}"
    assert card.created and not card.trained
    assert json.loads(card_path(path).read_text())["weights_sha256"] == sha
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.json", "m.safetensors"]

    loaded, loaded_card = load_checkpoint(path)
    assert loaded_card == card
    assert not loaded.training
    clips = torch.randn(2, 4, 3, 64, 64)
    with torch.inference_mode():
        expected, got = model(clips), loaded(clips)
    torch.testing.assert_close(got.video_logits, expected.video_logits)
    torch.testing.assert_close(got.frame_logits, expected.frame_logits)


def test_loading_by_the_card_path_works_too(saved):
    path, card, _ = saved
    assert load_checkpoint(card_path(path))[1] == card


def test_missing_weights_or_card(saved, tmp_path):
    path, _, _ = saved
    with pytest.raises(ModelError, match="not found"):
        load_checkpoint(tmp_path / "nothing.safetensors")
    card_path(path).unlink()
    with pytest.raises(ModelError, match=r"model card .* not found"):
        load_checkpoint(path)


def test_corrupt_weights_fail_the_sha256_check(saved):
    path, _, _ = saved
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its card"):
        load_checkpoint(path)


def test_unreadable_file_with_matching_sha_is_a_model_error(saved):
    path, _, _ = saved
    path.write_bytes(b"not a safetensors file")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    data = json.loads(card_path(path).read_text())
    data["weights_sha256"] = sha
    card_path(path).write_text(json.dumps(data))
    with pytest.raises(ModelError, match="not a readable safetensors"):
        load_checkpoint(path)


def test_card_for_another_architecture_is_rejected(saved, tmp_path):
    path, _, _ = saved
    data = json.loads(card_path(path).read_text())
    data["lstm_hidden"] = 32  # same backbone, different LSTM: shapes differ
    card_path(path).write_text(json.dumps(data))
    with pytest.raises(ModelError, match=r"do not match the network: .*shapes \['lstm\."):
        load_checkpoint(path)
    data["backbone"] = "resnext50_32x4d"  # keys differ entirely
    card_path(path).write_text(json.dumps(data))
    with pytest.raises(ModelError, match=r"missing .*another backbone"):
        load_checkpoint(path)


def test_save_rejects_a_model_that_does_not_match_the_card(tmp_path):
    card = ModelCard.for_backbone("efficientnet_lite0", input_size=64, lstm_hidden=16)
    model = build_model(card, pretrained=False)
    other = ModelCard.for_backbone("efficientnet_lite0", input_size=64, lstm_hidden=8)
    with pytest.raises(ModelError, match=r"do not match the network: .*shapes \['lstm\."):
        save_checkpoint(model, other, tmp_path / "x.safetensors")
    with pytest.raises(ModelError, match=r"must end in \.safetensors"):
        save_checkpoint(model, card, tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []


def test_overwriting_keeps_a_consistent_pair(saved):
    path, first, model = saved
    with torch.no_grad():
        model.video_head.bias.add_(1.0)
    second = save_checkpoint(model, first, path)
    assert second.weights_sha256 != first.weights_sha256
    assert load_checkpoint(path)[1] == second
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_tiny_checkpoint_fixture_loads(tiny_checkpoint):
    _, card = load_checkpoint(tiny_checkpoint)
    assert (card.input_size, card.frames, card.trained) == (64, 8, False)
    assert card.model_id.startswith("efficientnet_lite0-")


def test_default_model_path_is_the_packaged_card_or_none(tmp_path, monkeypatch):
    path = default_model_path()
    assert path is not None, "the package ships weights/default.json"
    assert path.name == "default.json" and path.parent.name == "weights"
    assert ModelCard.read(path).trained  # the shipped card, not any JSON file
    # A checkout without weights: None, until a card is there.
    monkeypatch.setattr(files, "DEFAULT_STEM", tmp_path / "default")
    assert default_model_path() is None
    (tmp_path / "default.safetensors").write_bytes(b"")
    assert default_model_path() is None  # weights without a card are no model
    (tmp_path / "default.json").write_text("{}")
    assert default_model_path() == tmp_path / "default.json"


def test_copied_checkpoint_pair_still_loads(saved, tmp_path):
    path, card, _ = saved
    dest = tmp_path / "moved"
    dest.mkdir()
    shutil.copy(path, dest / path.name)
    shutil.copy(card_path(path), dest / card_path(path).name)
    assert load_checkpoint(dest / path.name)[1] == card
