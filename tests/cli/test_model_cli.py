"""``deepverify model init`` through the real CLI entry point."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from deepverify.cli.app import app
from deepverify.model import imagenet, load_checkpoint
from tests.cli.helpers import one_line_error

runner = CliRunner()


def test_init_writes_an_untrained_imagenet_checkpoint(tmp_path):
    out = tmp_path / "m" / "lite.safetensors"
    result = runner.invoke(app, ["model", "init", "--out", str(out), "--frames", "8"])
    assert result.exit_code == 0, result.output
    model, card = load_checkpoint(out)
    assert (card.backbone, card.frames, card.input_size, card.trained) == (
        "efficientnet_lite0",
        8,
        224,
        False,
    )
    assert card.model_id in result.output and "untrained" in result.output
    # The backbone really holds the ImageNet weights.
    stem = imagenet.lite0_state_dict()["conv_stem.weight"]
    assert torch.equal(model.backbone.conv_stem.weight, stem)


def test_init_without_pretrained_weights_and_custom_size(tmp_path):
    out = tmp_path / "r.safetensors"
    args = ["model", "init", "--out", str(out), "--no-pretrained", "--input-size", "96",
            "--lstm-hidden", "8", "--frames", "4"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    model, card = load_checkpoint(out)
    assert (card.input_size, card.lstm_hidden, card.frames) == (96, 8, 4)
    stem = imagenet.lite0_state_dict()["conv_stem.weight"]
    assert not torch.equal(model.backbone.conv_stem.weight, stem)
    assert json.loads(out.with_suffix(".json").read_text())["trained"] is False


def test_init_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / "x.safetensors"
    base = ["model", "init", "--out", str(out), "--no-pretrained", "--input-size", "64"]
    assert runner.invoke(app, base).exit_code == 0
    first = out.read_bytes()
    result = runner.invoke(app, [*base, "--seed", "1"])
    assert result.exit_code == 1
    assert "already exists" in one_line_error(result)
    assert out.read_bytes() == first
    assert runner.invoke(app, [*base, "--seed", "1", "--force"]).exit_code == 0
    assert out.read_bytes() != first


def test_resnext_without_cached_imagenet_weights_is_aone_line_error(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    out = tmp_path / "r.safetensors"
    result = runner.invoke(
        app, ["model", "init", "--backbone", "resnext50_32x4d", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "--no-pretrained" in one_line_error(result)
    assert not out.exists()


def test_bad_arguments_are_rejected(tmp_path):
    result = runner.invoke(app, ["model", "init", "--out", str(tmp_path / "x.pt")])
    assert result.exit_code == 1
    assert ".safetensors" in one_line_error(result)
    result = runner.invoke(
        app, ["model", "init", "--backbone", "vgg16", "--out", str(tmp_path / "x.safetensors")]
    )
    assert result.exit_code == 2
    assert "resnext50_32x4d" in result.output


def test_export_writes_the_graph_and_card_elsewhere(tiny_checkpoint, tmp_path):
    from deepverify.engine import load_engine
    from deepverify.files import sha256_file
    from deepverify.model import ModelCard

    out = tmp_path / "exported" / "m.onnx"
    out.parent.mkdir()
    result = runner.invoke(app, ["model", "export", str(tiny_checkpoint), "--out", str(out)])
    assert result.exit_code == 0, result.output
    card = ModelCard.read(out.with_suffix(".json"))
    assert card.onnx_sha256 == sha256_file(out)
    assert (
        card.weights_sha256 == ModelCard.read(tiny_checkpoint.with_suffix(".json")).weights_sha256
    )
    assert load_engine(out).card == card


def test_export_refuses_a_bad_out_suffix(tiny_checkpoint, tmp_path):
    result = runner.invoke(
        app, ["model", "export", str(tiny_checkpoint), "-o", str(tmp_path / "x")]
    )
    assert result.exit_code == 1
    assert "must end in .onnx" in result.output


def test_init_values_are_checked_by_the_card_before_torch_work(tmp_path):
    out = tmp_path / "x.safetensors"
    result = runner.invoke(app, ["model", "init", "--out", str(out), "--lstm-hidden", "0"])
    assert result.exit_code == 1
    assert "field 'lstm_hidden'" in one_line_error(result)
    result = runner.invoke(app, ["model", "init", "--out", str(out), "--input-size", "16"])
    assert "field 'input_size'" in one_line_error(result)
    assert not out.exists()


def test_init_help_shows_the_cards_defaults():
    result = runner.invoke(app, ["model", "init", "--help"], terminal_width=200)
    assert result.exit_code == 0
    help_text = " ".join(result.output.replace("│", " ").split())  # rich boxes and wraps it
    assert "(LSTM steps); default 32." in help_text and "hidden size; default 256." in help_text
