"""scripts/mix_checkpoints.py: two runs mixed in weight space, chosen on validation, calibrated."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
import torch

from deepverify.model import load_checkpoint
from deepverify.training.cache import ExtractSummary
from deepverify.training.config import load_config
from deepverify.training.finetune import mix_states
from deepverify.training.trainer import train
from deepverify.training.validation import selection_score

TINY = [
    "model.input_size=64", "model.frames=4", "model.lstm_hidden=16", "model.pretrained=false",
    "data.clip_frames=3", "data.clips_per_epoch=8", "data.val_fraction=0.4",
    "data.val_clips_per_track=1", "optim.batch_size=4", "optim.warmup_steps=1", "threads=1",
    "optim.epochs=1",
]  # fmt: skip
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mix_checkpoints.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mix_checkpoints", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config_file(tmp_path: Path, cache: Path, *extra: str) -> tuple[Path, list[str]]:
    """A YAML config naming the cache, and the overrides that make the tiny run."""
    path = tmp_path / "tiny.yaml"
    path.write_text(f"data:\n  cache: {cache}\n", encoding="utf-8")
    return path, [*TINY, *extra]


def _run(cache: Path, out: Path, *extra: str) -> Path:
    train(load_config(None, [*TINY, f"data.cache={cache}", f"out_dir={out}", *extra]))
    return out / "model.safetensors"


def test_the_mix_with_the_best_validation_score_is_calibrated_and_exported(
    face_cache: tuple[Path, ExtractSummary], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache, _ = face_cache
    first = _run(cache, tmp_path / "a", "seed=0")
    second = _run(cache, tmp_path / "b", "seed=1", "optim.lr=0.01")
    config, overrides = _config_file(tmp_path, cache)
    out = tmp_path / "mix"
    argv = [str(config), str(first), str(second), "--weights", "0", "0.5", "1", "--out", str(out)]
    argv += [item for o in overrides for item in ("--set", o)]
    assert _script().main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    rows = printed["validation"]
    assert set(rows) == {"0", "0.5", "1"}
    chosen = printed["weight_of_second"]
    assert selection_score(rows[f"{chosen:g}"]) == max(selection_score(r) for r in rows.values())
    shipped, card = load_checkpoint(out / "model.safetensors")
    assert card.model_id == printed["model_id"] and card.training_data["weight_mix"]["first"]
    assert card.temperature == printed["temperature"] and card.metrics["calibration"]["clips"] > 0
    assert (out / "model.onnx").is_file() and card.onnx_sha256
    a, _ = load_checkpoint(first)
    b, _ = load_checkpoint(second)
    expected = mix_states(a.state_dict(), b.state_dict(), chosen)
    for name, value in shipped.state_dict().items():
        assert torch.allclose(value.float(), expected[name].float(), atol=1e-6), name


def test_a_checkpoint_of_another_split_is_refused(
    face_cache: tuple[Path, ExtractSummary], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache, _ = face_cache
    first = _run(cache, tmp_path / "a")
    other = _run(cache, tmp_path / "b", "data.split_seed=3")
    config, overrides = _config_file(tmp_path, cache)
    argv = [str(config), str(first), str(other), "--out", str(tmp_path / "mix")]
    argv += [item for o in overrides for item in ("--set", o)]
    assert _script().main(argv) == 2
    assert "another split" in capsys.readouterr().err
    assert not (tmp_path / "mix").exists()
    assert _script().main([*argv, "--weights", "1.5"]) == 2
    assert "must lie in [0, 1]" in capsys.readouterr().err
