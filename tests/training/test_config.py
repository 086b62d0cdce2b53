"""Typed training config: defaults, YAML, overrides, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepverify.errors import ConfigError
from deepverify.model import ModelCard, get_backbone
from deepverify.training.clips import Preprocess
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


def test_extends_merges_section_by_section(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "base.yaml").write_text(
        "out_dir: runs/base\ndata: {cache: cache, clip_frames: 4, balance: true}\n"
        "optim: {epochs: 8, lr: 0.001}\n"
    )
    stage = tmp_path / "stage2.yaml"
    stage.write_text(
        "extends: base/base.yaml\nout_dir: runs/stage2\ndata: {paired: true}\n"
        "model: {init_from: runs/base/model.safetensors}\noptim: {epochs: 2}\n"
    )
    cfg = load_config(stage, ["optim.lr=0.0002"])
    assert cfg.data.cache == tmp_path / "base" / "cache"  # relative to the file that set it
    assert cfg.out_dir == tmp_path / "runs" / "stage2"
    assert cfg.model.init_from == tmp_path / "runs" / "base" / "model.safetensors"
    assert cfg.data.clip_frames == 4 and cfg.data.balance and cfg.data.paired
    assert (cfg.optim.epochs, cfg.optim.lr) == (2, 0.0002)
    (tmp_path / "base" / "base.yaml").write_text("extends: ../stage2.yaml\n")
    with pytest.raises(ConfigError, match="extends itself"):
        load_config(stage)


def test_repository_configs_load() -> None:
    configs = Path(__file__).resolve().parents[2] / "configs"
    paired = load_config(configs / "cpu-ssd-paired.yaml")
    ssd = load_config(configs / "cpu-ssd.yaml")
    assert paired.data.paired and not ssd.data.paired
    assert paired.model.init_from == ssd.out_dir / "model.safetensors"
    assert paired.data.cache == ssd.data.cache and paired.data.split_seed == ssd.data.split_seed
    # the CPU default and the packaged GPU model: one split of the same YuNet caches
    default, gpu = load_config(configs / "default.yaml"), load_config(configs / "gpu.yaml")
    assert default.data.paired and default.model.init_from is None
    for field in ("cache", "extra_caches", "split_seed", "val_fraction", "calib_fraction"):
        assert getattr(default.data, field) == getattr(gpu.data, field), field
    for name in sorted(p.name for p in configs.glob("*.yaml")):
        load_config(configs / name)


def test_model_section_builds_the_card_with_the_cards_defaults() -> None:
    card = load_config().model.card()
    assert card == ModelCard()  # no default restated: the section's are the card's
    resnext = load_config(None, ["model.backbone=resnext50_32x4d", "model.frames=4"]).model
    card = resnext.card(detector="yunet")
    spec = get_backbone("resnext50_32x4d")
    assert (card.input_size, card.mean, card.frames, card.detector) == (
        spec.default_input_size,
        spec.mean,
        4,
        "yunet",
    )
    assert Preprocess.from_card(card) == Preprocess(224, card.crop_margin, spec.mean, spec.std)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.backbone=vgg16", "model.backbone: .*unknown backbone 'vgg16'; choose one of"),
        ("model.input_size=16", "model.input_size: .*greater than or equal to 32"),
        ("model.crop_margin=-0.1", "model.crop_margin"),
    ],
)
def test_model_section_checks_what_the_card_checks(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])
