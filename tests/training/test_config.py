"""Typed training config: defaults, YAML, overrides, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepverify.errors import ConfigError
from deepverify.training.config import TrainConfig, load_config


def test_defaults_without_file() -> None:
    cfg = load_config()
    assert cfg == TrainConfig()
    assert cfg.model.backbone == "efficientnet_lite0" and cfg.data.cache is None


def test_yaml_overrides_and_relative_paths(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cfg.yaml"
    path.parent.mkdir()
    path.write_text("optim:\n  lr: 0.001\n  epochs: 3\ndata:\n  cache: ../cache\nout_dir: runs\n")
    cfg = load_config(path, ["optim.epochs=5", "model.input_size=64", "sbi.hue_shift=1.5"])
    assert cfg.optim.lr == pytest.approx(1e-3) and cfg.optim.epochs == 5
    assert cfg.model.input_size == 64 and cfg.sbi.hue_shift == 1.5
    assert cfg.data.cache == (tmp_path / "cache").resolve()
    assert cfg.out_dir == (tmp_path / "sub" / "runs").resolve()


@pytest.mark.parametrize(
    ("text", "overrides", "message"),
    [
        ("optim:\n  lrr: 1\n", [], "unknown key 'optim.lrr'"),
        ("optim:\n  epochs: many\n", [], "optim.epochs"),
        ("- a\n- b\n", [], "mapping"),
        ("optim: [1\n", [], "not valid YAML"),
        ("", ["optim.lr"], "section.key=value"),
        ("", ["model.frames=0"], "model.frames"),
        ("", ["optim.lr=0.1", "optim.lr.x=1"], "not a section"),
    ],
)
def test_bad_configs_fail_in_one_line(
    tmp_path: Path, text: str, overrides: list[str], message: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as info:
        load_config(path, overrides)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")
