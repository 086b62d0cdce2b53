"""The training loop: AdamW, warm-up + cosine schedule, AMP and DDP, resumable, best by val AUC.

Run it in one process (``deepverify train``) or one per GPU / CPU slot under ``torchrun``: the
``RANK``/``WORLD_SIZE`` environment variables switch on DistributedDataParallel (NCCL on CUDA,
gloo on CPU). Only rank 0 validates, logs and writes files.

Files in ``out_dir``::

    last.pt              full state after each epoch (model, optimiser, schedule, scaler, epoch)
    best.safetensors     best model so far by validation AUC (+ best.json card)
    model.safetensors    the final model: best weights + threshold and temperature fitted on
                         the calibration split, which chose nothing else (+ model.json card)
    metrics.csv          one row per epoch (and TensorBoard events when tensorboard is installed)
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from deepverify.calibration import calibrated_probabilities, sigmoid
from deepverify.errors import ConfigError
from deepverify.faces import DEFAULT_DETECTOR
from deepverify.model import DeepfakeDetector, ModelCard, build_model, save_checkpoint
from deepverify.training.cache import cache_detector
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
from deepverify.training.finetune import (
    TUNED_NAME,
    init_from,
    interpolate_with_init,
    split_record,
)
from deepverify.training.metrics import (
    calibration_warning,
    classification_metrics,
    fit_temperature,
    fit_threshold,
    within_group_auc,
)

logger = logging.getLogger(__name__)

StepCallback = Callable[[int, int, int, float], None]
"""(epoch, step, steps per epoch, running loss) after each optimiser step (rank 0)."""
EpochCallback = Callable[[dict[str, Any]], None]
"""The metrics row of each finished epoch (rank 0)."""

CSV_FIELDS = (
    "epoch", "train_loss", "val_loss", "val_auc", "val_pair_auc", "val_accuracy", "lr", "seconds"
)  # fmt: skip


@dataclass(frozen=True)
class TrainResult:
    """What a run produced."""

    model_path: Path | None  # None on ranks other than 0
    card: ModelCard | None
    best_epoch: int
    best_val_auc: float | None
    epochs_run: int


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
    m = cfg.model
    return ModelCard.for_backbone(
        m.backbone,
        input_size=m.input_size,
        frames=m.frames,
        crop_margin=m.crop_margin,
        lstm_hidden=m.lstm_hidden,
        lstm_layers=m.lstm_layers,
        detector=cache_detector(cfg.data.cache) if cfg.data.cache else DEFAULT_DETECTOR,
        train_sequence_length=max(cfg.data.clip_lengths or [cfg.data.clip_frames]),
    )


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


def _schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> Any:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _loss(output: Any, labels: torch.Tensor, frame_weight: float) -> torch.Tensor:
    bce = nn.functional.binary_cross_entropy_with_logits
    video = bce(output.video_logits.float(), labels)
    frames = bce(output.frame_logits.float(), labels[:, None].expand_as(output.frame_logits))
    return video + frame_weight * frames


@torch.no_grad()
def predict(
    model: DeepfakeDetector, loader: DataLoader[Any], device: torch.device
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, video logits ``(N,)`` and frame logits ``(N, T)`` over a loader."""
    model.eval()
    labels, videos, frames = [], [], []
    for clips, y in loader:
        output = model(clips.to(device))
        labels.append(y.numpy())
        videos.append(output.video_logits.float().cpu().numpy())
        frames.append(output.frame_logits.float().cpu().numpy())
    if not labels:
        return np.zeros(0), np.zeros(0), np.zeros((0, 0))
    return np.concatenate(labels), np.concatenate(videos), np.concatenate(frames)


def _val_metrics(
    labels: np.ndarray, logits: np.ndarray, frame_logits: np.ndarray
) -> dict[str, Any]:
    video = classification_metrics(labels, sigmoid(logits))
    frame_labels = np.repeat(labels, frame_logits.shape[1]) if frame_logits.size else labels[:0]
    frame = classification_metrics(frame_labels, sigmoid(frame_logits.reshape(-1)))
    return {"video": video, "frame": frame}


class _Logger:
    """metrics.csv (+ TensorBoard when installed), appended across resumed runs."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / "metrics.csv"
        self.writer: Any = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(out_dir / "tensorboard"))
        except ImportError:
            logger.info("tensorboard is not installed; logging to %s only", self.path)

    def log(self, row: dict[str, Any]) -> None:
        new = not self.path.is_file()
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.writer is not None:
            for key in CSV_FIELDS[1:]:
                if isinstance(row.get(key), (int, float)):
                    self.writer.add_scalar(key, row[key], row["epoch"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _loader(dataset: Dataset[Any], cfg: TrainConfig, **kwargs: Any) -> DataLoader[Any]:
    if "batch_sampler" not in kwargs:
        kwargs["batch_size"] = cfg.optim.batch_size
    return DataLoader(dataset, num_workers=cfg.data.num_workers, persistent_workers=False, **kwargs)


@dataclass
class _Run:
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


def _setup(cfg: TrainConfig) -> _Run:
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
    pre = Preprocess(card.input_size, card.crop_margin, card.mean, card.std)
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
    if tracks["calib"]:
        calib_loader = fixed_loader(tracks["calib"], cfg, pre)
    else:
        logger.warning(
            "no calibration split (data.calib_fraction = 0): the validation split "
            "both chooses the epoch and calibrates"
        )
        calib_loader = val_loader

    model = build_model(card, pretrained=cfg.model.pretrained)
    if cfg.model.init_from is not None:
        card = init_from(model, card, cfg, split_summary.get("split_groups_sha256"))
    model = model.to(device)
    torch.manual_seed(cfg.seed)  # identical head initialisation on every rank
    frozen_bn = freeze_backbone_prefix(model, cfg.model.freeze_until)
    if device.type == "cuda" and cfg.optim.channels_last:
        model = model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    steps_per_epoch = max(1, len(train_loader))
    return _Run(
        cfg=cfg, ddp=ddp, device=device, card=card, model=model,
        net=DistributedDataParallel(model) if ddp.world > 1 else model,
        frozen_bn=frozen_bn, params=params, optimizer=optimizer,
        scheduler=_schedule(optimizer, cfg.optim.warmup_steps, cfg.optim.epochs * steps_per_epoch),
        scaler=torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and cfg.optim.amp),
        train_set=train_set, train_loader=train_loader, val_loader=val_loader,
        calib_loader=calib_loader, split_summary=split_summary,
    )  # fmt: skip


def _resume(run: _Run, state_path: Path) -> None:
    state = torch.load(state_path, map_location=run.device, weights_only=False)
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.scaler.load_state_dict(state["scaler"])
    run.start_epoch = state["epoch"] + 1
    run.best_score, run.best_epoch = state["best_auc"], state["best_epoch"]
    logger.info("resumed from %s at epoch %d", state_path, run.start_epoch)


def _train_epoch(run: _Run, epoch: int, on_step: StepCallback | None) -> float:
    """One pass over the epoch's steps; returns the mean training loss."""
    cfg, device = run.cfg, run.device
    run.train_set.set_epoch(epoch)
    run.net.train()
    for module in run.frozen_bn:
        module.eval()
    amp = device.type == "cuda" and cfg.optim.amp
    steps = len(run.train_loader)
    total, count = 0.0, 0
    for step, (clips, labels) in enumerate(run.train_loader, 1):
        clips, labels = clips.to(device, non_blocking=True), labels.to(device)
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            loss = _loss(run.net(clips), labels, cfg.optim.frame_loss_weight)
        run.optimizer.zero_grad(set_to_none=True)
        scaled: torch.Tensor = run.scaler.scale(loss)
        scaled.backward()  # type: ignore[no-untyped-call]
        if cfg.optim.grad_clip > 0:
            run.scaler.unscale_(run.optimizer)
            nn.utils.clip_grad_norm_(run.params, cfg.optim.grad_clip)
        run.scaler.step(run.optimizer)
        run.scaler.update()
        run.scheduler.step()
        total, count = total + float(loss.detach()), count + 1
        if run.ddp.main and (step % 10 == 0 or step == steps):
            logger.info(
                "epoch %d step %d/%d T=%d loss %.4f",
                epoch,
                step,
                steps,
                clips.shape[1],
                total / count,
            )
        if on_step and run.ddp.main:
            on_step(epoch, step, steps, total / count)
    return total / max(1, count)


def _save_epoch(run: _Run, epoch: int, row: dict[str, Any]) -> None:
    """Keep the best model by the selection score, and the full state for resuming."""
    score = _selection_score(row)
    out = run.cfg.out_dir
    if score > run.best_score:
        run.best_score, run.best_epoch = score, epoch
        card = _trained(run.card, run.cfg, run.split_summary, epoch)
        save_checkpoint(run.model, card, out / TUNED_NAME)
    torch.save(
        {
            "model": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "scaler": run.scaler.state_dict(),
            "epoch": epoch,
            "best_auc": run.best_score,
            "best_epoch": run.best_epoch,
        },
        out / "last.pt",
    )


def train(
    cfg: TrainConfig,
    *,
    resume: bool = True,
    on_step: StepCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train a detector on face-crop caches as ``cfg`` describes.

    Args:
        cfg: The validated configuration (``cfg.data.cache`` must be set).
        resume: Continue from ``out_dir/last.pt`` when it exists.
        on_step: Progress callback after each optimiser step (rank 0).
        on_epoch: Callback with each epoch's metrics row (rank 0).

    Raises:
        ConfigError: No cache given, or options that do not fit the model.
        DatasetError: The cache is missing or unusable.
    """
    run = _setup(cfg)
    state_path = cfg.out_dir / "last.pt"
    if resume and state_path.is_file():
        _resume(run, state_path)
    log = _Logger(cfg.out_dir) if run.ddp.main else None
    started = time.monotonic()
    epoch = run.start_epoch - 1
    try:
        for epoch in range(run.start_epoch, cfg.optim.epochs):
            t0 = time.monotonic()
            train_loss = _train_epoch(run, epoch, on_step)
            stop = False
            if run.ddp.main:
                row = _end_epoch(
                    run.model,
                    run.card,
                    run.val_loader,
                    run.device,
                    epoch,
                    train_loss,
                    run.optimizer,
                )
                row["seconds"] = round(time.monotonic() - t0, 1)
                _save_epoch(run, epoch, row)
                assert log is not None
                log.log(row)
                if on_epoch:
                    on_epoch(row)
                budget = cfg.max_minutes
                stop = budget is not None and (time.monotonic() - started) / 60 > budget
            if run.ddp.world > 1:
                flag = torch.tensor([int(stop)], device=run.device)
                dist.broadcast(flag, src=0)
                stop = bool(flag.item())
            if stop:
                logger.info(
                    "time budget of %s minutes reached after epoch %d", cfg.max_minutes, epoch
                )
                break
    finally:
        if log is not None:
            log.close()
    best = run.best_score if run.best_score > -0.5 else None
    result = TrainResult(None, None, run.best_epoch, best, epoch + 1 - run.start_epoch)
    if run.ddp.main:
        source = cfg.out_dir / TUNED_NAME
        if cfg.model.init_from is not None and cfg.model.interpolate_with_init:
            source, _ = interpolate_with_init(
                cfg,
                run.device,
                lambda m: _selection_score(_validation_row(m, run.val_loader, run.device)),
            )
        final = finalize(cfg.out_dir, run.calib_loader, run.device, run.val_loader, source=source)
        result = dataclasses.replace(
            result, model_path=cfg.out_dir / "model.safetensors", card=final
        )
    if run.ddp.world > 1:
        dist.barrier()
    return result


def _selection_score(row: dict[str, Any]) -> float:
    """Validation AUC, ties broken by the lower validation loss.

    A small validation set often reaches AUC 1.0 early; without an AUC (one class, or no
    validation), minus a loss.
    """
    loss = row["val_loss"] if math.isfinite(row["val_loss"]) else row.get("train_loss", 10.0)
    if row["val_auc"] is not None:
        return float(row["val_auc"]) - 1e-3 * min(float(loss), 10.0)
    return -1.0 - float(loss)


def _trained(card: ModelCard, cfg: TrainConfig, summary: dict[str, Any], epoch: int) -> ModelCard:
    return dataclasses.replace(
        card,
        trained=True,
        training_data={
            "cache": cfg.data.cache.name if cfg.data.cache else "",
            "extra_caches": [c.name for c in cfg.data.extra_caches],
            "self_blended_fakes": cfg.data.sbi_share > 0,
            "sbi_share": cfg.data.sbi_share,
            "clip_frames": cfg.data.clip_frames,
            "clip_lengths": cfg.data.clip_lengths or [cfg.data.clip_frames],
            "frame_stride": cfg.data.frame_stride,
            "epochs_at_best": epoch + 1,
            "clips_per_epoch": cfg.data.clips_per_epoch,
            "seed": cfg.seed,
            "paired": cfg.data.paired,
            **(
                {"init_from": card.training_data["init_from"]}
                if "init_from" in card.training_data
                else {}
            ),
            **split_record(cfg),
            **summary,
        },
    )


def _end_epoch(
    model: DeepfakeDetector,
    card: ModelCard,
    val_loader: DataLoader[Any],
    device: torch.device,
    epoch: int,
    train_loss: float,
    optimizer: torch.optim.Optimizer,
) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "train_loss": round(train_loss, 5),
        **_validation_row(model, val_loader, device),
        "lr": optimizer.param_groups[0]["lr"],
    }


def _validation_row(
    model: DeepfakeDetector, val_loader: DataLoader[Any], device: torch.device
) -> dict[str, Any]:
    """Validation loss, AUC, within-group AUC and accuracy (uncalibrated) of ``model``."""
    labels, logits, frames = predict(model, val_loader, device)
    metrics = _val_metrics(labels, logits, frames)["video"] if labels.size else {}
    return {
        "val_loss": round(metrics.get("log_loss") or float("nan"), 5),
        "val_auc": metrics.get("roc_auc"),
        "val_pair_auc": within_group_auc(labels, logits, clip_groups(val_loader))["auc"],
        "val_accuracy": metrics.get("accuracy"),
    }


def clip_groups(loader: DataLoader[Any]) -> list[str]:
    """The group of each clip of a validation or calibration loader, in order."""
    dataset = loader.dataset
    assert isinstance(dataset, FixedClips)
    return [spec.track.group for spec in dataset.specs]


def _split_metrics(
    predictions: tuple[np.ndarray, np.ndarray, np.ndarray],
    groups: list[str],
    temperature: float,
    threshold: float,
) -> dict[str, Any]:
    labels, logits, frames = predictions
    probs = calibrated_probabilities(logits, temperature)
    video = classification_metrics(labels, probs, threshold) if labels.size else {}
    frame_labels = np.repeat(labels, frames.shape[1]) if frames.size else labels[:0]
    frame = classification_metrics(
        frame_labels, calibrated_probabilities(frames.reshape(-1), temperature), threshold
    )
    return {
        "video": video,
        "frame": frame,
        "within_group": within_group_auc(labels, logits, groups),
        "clips": int(labels.size),
    }


def finalize(
    out: Path,
    calib_loader: DataLoader[Any],
    device: torch.device,
    val_loader: DataLoader[Any] | None = None,
    *,
    source: Path | None = None,
) -> ModelCard:
    """Fit temperature and threshold of the best model on the calibration clips.

    ``source`` is the model (by default the best epoch). Writes ``model.*`` with the
    calibration metrics and (when given) the selection split's.
    """
    from deepverify.model import load_checkpoint

    model, card = load_checkpoint(source or out / TUNED_NAME, device=str(device))
    calib = predict(model, calib_loader, device)
    labels, logits, _ = calib
    temperature = fit_temperature(labels, logits)
    threshold = fit_threshold(labels, calibrated_probabilities(logits, temperature))
    fitted = temperature, threshold
    metrics = {"calibration": _split_metrics(calib, clip_groups(calib_loader), *fitted)}
    warning = calibration_warning(temperature, metrics["calibration"]["video"].get("roc_auc"))
    if warning:
        logger.warning("%s", warning)
        metrics["calibration"]["warning"] = warning  # kept in the card, beside the figures
    if val_loader is not None and val_loader is not calib_loader:
        val = predict(model, val_loader, device)
        metrics["validation"] = _split_metrics(val, clip_groups(val_loader), *fitted)
    else:
        metrics["validation"] = metrics["calibration"]
    final = dataclasses.replace(
        card,
        threshold=round(threshold, 6),
        temperature=round(temperature, 6),
        weights_sha256="",
        model_id="",
        created="",
        metrics=metrics,
    )
    save_checkpoint(model, final, out / "model.safetensors")
    from deepverify.model.export import export_onnx

    # scan, evaluate and serve run the ONNX graph: a finished run is ready for them.
    _, exported = export_onnx(out / "model.safetensors")
    return exported
