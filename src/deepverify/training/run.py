"""Setting up one training run: device, process group, data loaders, model, optimiser, schedule.

``setup_run`` builds a ``Run`` from a validated config: it picks the device (the ``LOCAL_RANK``
GPU when CUDA is available), joins the distributed group when ``WORLD_SIZE`` > 1, seeds every
generator, loads the split face-crop tracks into training, validation and calibration loaders,
builds (or fine-tunes from) the model and makes its optimiser and learning-rate schedule. The
training loop in ``deepverify.training.trainer`` then only steps, validates and saves.
"""

from __future__ import annotations

import logging
import math
import os
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from deepverify.errors import ConfigError
from deepverify.model import DeepfakeDetector, ModelCard, build_model
from deepverify.training.cache_index import cache_detector
from deepverify.training.clips import (
    FixedClips,
    Preprocess,
    StepBatches,
    TrackRef,
    TrainClips,
    load_split_tracks,
    validation_specs,
)
from deepverify.training.config import TrainConfig
from deepverify.training.finetune import init_from

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: torch.device) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return _Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and ask cuDNN for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def make_card(cfg: TrainConfig) -> ModelCard:
    """The model card the config describes (backbone's own normalisation, the cache's detector)."""
    fields: dict[str, Any] = {
        "train_sequence_length": max(cfg.data.clip_lengths or [cfg.data.clip_frames])
    }
    if cfg.data.cache:
        fields["detector"] = cache_detector(cfg.data.cache)
    return cfg.model.card(**fields)


def freeze_backbone_prefix(model: DeepfakeDetector, until: str) -> list[nn.Module]:
    """Freeze backbone parameters listed before the first named ``until...``.

    Returns:
        The frozen BatchNorm modules, to keep in eval mode (fixed statistics) during training.

    Raises:
        ConfigError: No backbone parameter name starts with ``until``.
    """
    if not until:
        return []
    names = [name for name, _ in model.backbone.named_parameters()]
    if not any(n.startswith(until) for n in names):
        raise ConfigError(
            f"model.freeze_until {until!r} matches no backbone parameter; e.g. {names[0]!r}, "
            f"{names[len(names) // 2]!r}"
        )
    frozen_modules: set[str] = set()
    for name, param in model.backbone.named_parameters():
        if name.startswith(until):
            break
        param.requires_grad_(False)
        frozen_modules.add(name.rsplit(".", 1)[0])
    return [
        module
        for name, module in model.backbone.named_modules()
        if name in frozen_modules and isinstance(module, nn.modules.batchnorm._BatchNorm)
    ]


def parameter_groups(
    model: DeepfakeDetector, lr: float, backbone_lr_scale: float
) -> list[dict[str, Any]]:
    """The trainable parameters as optimiser groups, the new layers first.

    The LSTM and heads learn at ``lr`` (the first group, whose rate the metrics log), the
    backbone at ``lr * backbone_lr_scale``. Frozen parameters are left out; an empty group is
    dropped.
    """
    backbone = {id(p) for p in model.backbone.parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if id(p) not in backbone], "lr": lr},
        {"params": [p for p in trainable if id(p) in backbone], "lr": lr * backbone_lr_scale},
    ]
    return [group for group in groups if group["params"]]


def _schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> Any:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _loader(dataset: Dataset[Any], cfg: TrainConfig, **kwargs: Any) -> DataLoader[Any]:
    if "batch_sampler" not in kwargs:
        kwargs["batch_size"] = cfg.optim.batch_size
    return DataLoader(dataset, num_workers=cfg.data.num_workers, persistent_workers=False, **kwargs)


@dataclass
class Run:
    """Everything one training run holds between epochs."""

    cfg: TrainConfig
    ddp: _Dist
    device: torch.device
    card: ModelCard
    model: DeepfakeDetector
    net: nn.Module
    frozen_bn: list[nn.Module]
    params: list[nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    train_set: TrainClips
    train_loader: DataLoader[Any]
    val_loader: DataLoader[Any]
    calib_loader: DataLoader[Any]
    split_summary: dict[str, Any]
    start_epoch: int = 0
    best_score: float = -math.inf
    best_epoch: int = -1


def fixed_loader(tracks: list[TrackRef], cfg: TrainConfig, pre: Preprocess) -> DataLoader[Any]:
    """The fixed validation (or calibration) clips of ``tracks``, in a loader."""
    return _loader(FixedClips(validation_specs(tracks, cfg.data, cfg.sbi, cfg.seed), pre), cfg)


def calibration_loader(
    tracks: dict[str, list[TrackRef]],
    val_loader: DataLoader[Any],
    cfg: TrainConfig,
    pre: Preprocess,
) -> DataLoader[Any]:
    """The clips that fit temperature and threshold: the calibration split's.

    Without a calibration split (``data.calib_fraction = 0``) the validation split calibrates
    too, and ``val_loader`` itself is returned (said in the log): :func:`finalize` then reports
    one set of figures for both.
    """
    if tracks["calib"]:
        return fixed_loader(tracks["calib"], cfg, pre)
    logger.warning(
        "no calibration split (data.calib_fraction = 0): the validation split "
        "both chooses the model and calibrates it"
    )
    return val_loader


def setup_run(cfg: TrainConfig) -> Run:
    """Device, distributed group, data, model, optimiser and schedule for ``cfg``."""
    if cfg.data.cache is None:
        raise ConfigError("no face-crop cache: set data.cache in the config or pass --cache")
    torch.set_num_threads(cfg.threads)
    device = (
        torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        if torch.cuda.is_available()
        else torch.device("cpu")
    )
    ddp = _init_distributed(device)
    seed_everything(cfg.seed + ddp.rank)
    if ddp.main:
        cfg.out_dir.mkdir(parents=True, exist_ok=True)
        (cfg.out_dir / "config.json").write_text(cfg.model_dump_json(indent=2), encoding="utf-8")
    card = make_card(cfg)
    pre = Preprocess.from_card(card)
    tracks, split_summary = load_split_tracks([cfg.data.cache, *cfg.data.extra_caches], cfg.data)
    train_set = TrainClips(
        tracks["train"],
        pre,
        cfg.data,
        cfg.sbi,
        cfg.seed,
        batch_size=cfg.optim.batch_size,
        augment=cfg.augment,
    )
    train_loader = _loader(
        train_set, cfg, batch_sampler=StepBatches(train_set, ddp.rank, ddp.world)
    )
    val_loader = fixed_loader(tracks["val"], cfg, pre)
    calib_loader = calibration_loader(tracks, val_loader, cfg, pre)

    model = build_model(card, pretrained=cfg.model.pretrained)
    if cfg.model.init_from is not None:
        card = init_from(
            model,
            card,
            cfg,
            split_summary.get("split_groups_sha256"),
            split_summary.get("kept_split_groups_sha256"),
        )
    model = model.to(device)
    torch.manual_seed(cfg.seed)  # identical head initialisation on every rank
    frozen_bn = freeze_backbone_prefix(model, cfg.model.freeze_until)
    if device.type == "cuda" and cfg.optim.channels_last:
        model = model.to(memory_format=torch.channels_last)
    groups = parameter_groups(model, cfg.optim.lr, cfg.optim.backbone_lr_scale)
    params = [p for group in groups for p in group["params"]]
    optimizer = torch.optim.AdamW(groups, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    steps_per_epoch = max(1, len(train_loader))
    return Run(
        cfg=cfg, ddp=ddp, device=device, card=card, model=model,
        net=DistributedDataParallel(model) if ddp.world > 1 else model,
        frozen_bn=frozen_bn, params=params, optimizer=optimizer,
        scheduler=_schedule(optimizer, cfg.optim.warmup_steps, cfg.optim.epochs * steps_per_epoch),
        scaler=torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and cfg.optim.amp),
        train_set=train_set, train_loader=train_loader, val_loader=val_loader,
        calib_loader=calib_loader, split_summary=split_summary,
    )  # fmt: skip
