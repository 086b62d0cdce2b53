"""Training on the tiny cache: checkpoints, resume, calibration in the card, DDP on gloo."""

from __future__ import annotations

import csv
import os
import shutil
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from deepverify.errors import ConfigError
from deepverify.model import build_model, load_checkpoint
from deepverify.training import clips as clips_mod
from deepverify.training import run as run_mod
from deepverify.training import trainer as trainer_mod
from deepverify.training.cache import ExtractSummary
from deepverify.training.config import TrainConfig, load_config
from deepverify.training.finetune import check_same_split, mix_states
from deepverify.training.trainer import freeze_backbone_prefix, make_card, train

TINY = [
    "model.input_size=64", "model.frames=4", "model.lstm_hidden=16", "model.pretrained=false",
    "data.clip_frames=3", "data.clips_per_epoch=8", "data.val_fraction=0.4",
    "data.val_clips_per_track=1", "optim.batch_size=4", "optim.warmup_steps=1", "threads=1",
]  # fmt: skip


def _config(cache: Path, out: Path, *extra: str) -> TrainConfig:
    return load_config(None, [*TINY, f"data.cache={cache}", f"out_dir={out}", *extra])


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_train_resume_and_calibrated_card(
    face_cache: tuple[Path, ExtractSummary], tmp_path: Path
) -> None:
    cache, _ = face_cache
    out = tmp_path / "run"
    steps: list[tuple[int, int]] = []
    first = train(
        _config(cache, out, "optim.epochs=1"), on_step=lambda e, s, n, loss: steps.append((e, s))
    )
    assert steps == [(0, 1), (0, 2)]
    assert first.epochs_run == 1 and (out / "last.pt").is_file() and (out / "best.json").is_file()
    second = train(_config(cache, out, "optim.epochs=2"))
    assert second.epochs_run == 1  # resumed: only epoch 1 ran
    assert [r["epoch"] for r in _rows(out)] == ["0", "1"]
    assert second.model_path == out / "model.safetensors"
    model, card = load_checkpoint(out / "model.safetensors")
    assert card.trained and card.input_size == 64 and card.frames == 4
    assert card.temperature > 0 and 0.0 <= card.threshold <= 1.0
    val = card.metrics["validation"]
    assert val["clips"] > 0 and val["video"]["n"] == val["clips"]
    assert set(val["within_group"]) == {"auc", "pairs", "groups"}
    assert card.training_data["self_blended_fakes"] is True
    out_logits = model(torch.zeros(1, 3, 3, 64, 64)).video_logits
    assert out_logits.shape == (1,)


def test_missing_cache_and_bad_freeze(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no face-crop cache"):
        train(TrainConfig(out_dir=tmp_path))
    model = build_model(make_card(TrainConfig()), pretrained=False)
    with pytest.raises(
        ConfigError, match=r"model\.freeze_until 'nonexistent' matches no backbone parameter"
    ):
        freeze_backbone_prefix(model, "nonexistent")
    frozen_bn = freeze_backbone_prefix(model, "blocks.3")
    assert frozen_bn and not model.backbone.conv_stem.weight.requires_grad
    assert model.backbone.blocks[3][0].conv_pw.weight.requires_grad


def test_backbone_learns_at_a_scaled_rate() -> None:
    model = build_model(make_card(TrainConfig()), pretrained=False)
    freeze_backbone_prefix(model, "blocks.3")
    groups = run_mod.parameter_groups(model, 1e-3, 0.1)
    assert [g["lr"] for g in groups] == pytest.approx([1e-3, 1e-4])
    head, backbone = ({id(p) for p in g["params"]} for g in groups)
    assert id(model.lstm.weight_ih_l0) in head and id(model.video_head.weight) in head
    assert id(model.backbone.blocks[3][0].conv_pw.weight) in backbone
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert head | backbone == trainable and not head & backbone
    assert id(model.backbone.conv_stem.weight) not in backbone
    # the schedule scales both groups alike, so the ratio holds at every step
    optimizer = torch.optim.AdamW(groups)
    schedule = run_mod._schedule(optimizer, 4, 20)
    for _ in range(6):
        optimizer.step()
        schedule.step()
        first, second = (g["lr"] for g in optimizer.param_groups)
        assert second == pytest.approx(first * 0.1)
    with pytest.raises(ValueError, match=r"backbone_lr_scale\s+Input should be greater than 0"):
        TrainConfig.model_validate({"optim": {"backbone_lr_scale": 0}})


def test_resume_with_another_optimiser_layout_is_refused(tmp_path: Path) -> None:
    model = build_model(make_card(TrainConfig()), pretrained=False)
    freeze_backbone_prefix(model, "blocks.3")
    one_group = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    state_path = tmp_path / "last.pt"
    torch.save({"model": model.state_dict(), "optimizer": one_group.state_dict()}, state_path)
    two_groups = torch.optim.AdamW(run_mod.parameter_groups(model, 1e-3, 0.1))
    run = SimpleNamespace(model=model, optimizer=two_groups, device=torch.device("cpu"))
    with pytest.raises(ConfigError, match=r"cannot resume from .*--no-resume"):
        trainer_mod._resume(run, state_path)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ddp_worker(rank: int, world: int, port: int, cache: str, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world),
        RANK=str(rank), LOCAL_RANK=str(rank),
    )  # fmt: skip
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        result = train(_config(Path(cache), Path(out), "optim.epochs=1"))
        assert (result.model_path is not None) == (rank == 0)
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_gloo_processes(face_cache: tuple[Path, ExtractSummary], tmp_path: Path) -> None:
    cache, _ = face_cache
    out = tmp_path / "ddp"
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(cache), str(out)), nprocs=2, join=True)
    rows = _rows(out)
    assert [r["epoch"] for r in rows] == ["0"]
    _, card = load_checkpoint(out / "model.safetensors")
    assert card.trained


def _bright_fake(image: np.ndarray, *_: Any) -> tuple[np.ndarray, np.ndarray]:
    """A toy 'fake': the whole crop saturated to white, separable from any real face."""
    return np.full_like(image, 255), np.ones(image.shape[:2], dtype=np.float32)


def test_training_changes_the_weights_and_lowers_the_loss_on_a_separable_set(
    face_cache: tuple[Path, ExtractSummary], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Passes only if the optimiser really steps: a skipped step leaves weights and loss flat."""
    monkeypatch.setattr(clips_mod, "blend", _bright_fake)
    initial: dict[str, torch.Tensor] = {}

    def recording_build(*args: Any, **kwargs: Any) -> torch.nn.Module:
        model = build_model(*args, **kwargs)
        initial.update({k: v.detach().clone() for k, v in model.state_dict().items()})
        return model

    monkeypatch.setattr(run_mod, "build_model", recording_build)
    cache, _ = face_cache
    out = tmp_path / "toy"
    losses: list[float] = []
    train(
        _config(
            cache, out, "optim.epochs=4", "optim.lr=0.003", "optim.warmup_steps=0",
            "data.clips_per_epoch=16", "augment.hflip=0", "augment.jpeg_probability=0",
        ),
        on_step=lambda e, s, n, loss: losses.append(loss) if s == n else None,
    )  # fmt: skip
    model, _ = load_checkpoint(out / "model.safetensors")
    trained = model.state_dict()
    for name in ("frame_head.weight", "video_head.weight", "lstm.weight_ih_l0"):
        assert not torch.equal(trained[name], initial[name]), f"{name} did not change"
    # Mean training loss of each epoch: the last is well below the first.
    assert len(losses) == 4
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.fixture(scope="module")
def start_model(
    face_cache: tuple[Path, ExtractSummary], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A one-epoch model to fine-tune from (same cache, same split)."""
    cache, _ = face_cache
    out = tmp_path_factory.mktemp("start")
    train(_config(cache, out, "optim.epochs=1"))
    return out / "model.safetensors"


def test_init_from_starts_at_a_checkpoint_of_the_same_split(
    face_cache: tuple[Path, ExtractSummary], start_model: Path, tmp_path: Path
) -> None:
    cache, _ = face_cache
    start_path = start_model
    start, start_card = load_checkpoint(start_path)
    init = f"model.init_from={start_path}"
    # A learning rate too small to move anything: the run ends where it started.
    result = train(_config(cache, tmp_path / "second", init, "optim.epochs=1", "optim.lr=1e-12"))
    tuned, card = load_checkpoint(tmp_path / "second" / "model.safetensors")
    assert card.training_data["init_from"] == start_card.model_id
    assert card.training_data["split_seed"] == 0 and result.epochs_run == 1
    tuned_params = dict(tuned.named_parameters())  # (BatchNorm statistics still move)
    for name, value in start.named_parameters():
        assert torch.allclose(tuned_params[name], value, atol=1e-6), name
    with pytest.raises(ConfigError, match="another split"):
        train(_config(cache, tmp_path / "third", init, "data.split_seed=3"))
    with pytest.raises(ConfigError, match="differs in input_size"):
        train(_config(cache, tmp_path / "fourth", init, "model.input_size=96"))


def test_init_from_accepts_the_same_groups_in_a_cache_of_another_name(
    face_cache: tuple[Path, ExtractSummary], start_model: Path, tmp_path: Path
) -> None:
    # A copy of the cache (or one cut from other boxes of the same videos) splits the same groups
    # the same way: fine-tuning on it cannot leak, so the start model's cache name does not matter.
    cache, _ = face_cache
    copy = tmp_path / "another-name"
    shutil.copytree(cache, copy)
    _, start_card = load_checkpoint(start_model)
    groups = start_card.training_data["split_groups_sha256"]
    result = train(_config(copy, tmp_path / "tuned", f"model.init_from={start_model}"))
    assert result.card is not None
    assert result.card.training_data["init_from"] == start_card.model_id
    assert result.card.training_data["caches"] != start_card.training_data["caches"]
    assert result.card.training_data["split_groups_sha256"] == groups
    with pytest.raises(ConfigError, match="groups of its splits differ"):
        train(
            _config(copy, tmp_path / "other", f"model.init_from={start_model}", "data.split_seed=3")
        )


def test_a_model_of_the_kept_split_may_start_a_run_that_keeps_it() -> None:
    cfg = TrainConfig()
    card = make_card(cfg)
    start = card.replace(training_data={"split_groups_sha256": "base"})
    check_same_split(start, cfg, "start", split_groups="grown", kept_groups="base")
    check_same_split(start, cfg, "start", split_groups="base")
    with pytest.raises(ConfigError, match="groups of its splits differ"):
        check_same_split(start, cfg, "start", split_groups="grown", kept_groups="other")
    with pytest.raises(ConfigError, match="groups of its splits differ"):
        check_same_split(start, cfg, "start", split_groups="grown")


def test_mix_states_interpolates_floats_only() -> None:
    start = {"w": torch.zeros(3), "n": torch.tensor(4)}
    tuned = {"w": torch.full((3,), 2.0), "n": torch.tensor(9)}
    mixed = mix_states(start, tuned, 0.25)
    assert torch.equal(mixed["w"], torch.full((3,), 0.5)) and int(mixed["n"]) == 9


def test_interpolation_with_the_start_is_chosen_on_validation(
    face_cache: tuple[Path, ExtractSummary], start_model: Path, tmp_path: Path
) -> None:
    cache, _ = face_cache
    start_path = start_model
    out = tmp_path / "second"
    result = train(
        _config(
            cache,
            out,
            f"model.init_from={start_path}",
            "optim.epochs=1",
            "optim.lr=0.01",
            "model.interpolate_with_init=[0.0, 0.5, 1.0]",
        )
    )
    assert result.card is not None
    record = result.card.training_data["interpolation"]
    assert set(record["validation_scores"]) == {"0", "0.5", "1"}
    assert record["validation_scores"][f"{record['alpha']:g}"] == max(
        record["validation_scores"].values()
    )
    # The shipped weights are that mix of the start and the run's best epoch.
    start, _ = load_checkpoint(start_path)
    tuned, _ = load_checkpoint(out / "best.safetensors")
    shipped, _ = load_checkpoint(out / "model.safetensors")
    expected = mix_states(start.state_dict(), tuned.state_dict(), record["alpha"])
    for name, value in shipped.state_dict().items():
        assert torch.allclose(value.float(), expected[name].float(), atol=1e-6), name
