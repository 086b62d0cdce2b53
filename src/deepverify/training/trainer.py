"""The training loop: AdamW, warm-up + cosine schedule, AMP and DDP, resumable, best by val AUC.

Run it in one process (``deepverify train``) or one per GPU / CPU slot under ``torchrun``: the
``RANK``/``WORLD_SIZE`` environment variables switch on DistributedDataParallel (NCCL on CUDA,
gloo on CPU). Only rank 0 validates, logs and writes files. The run is set up in
``deepverify.training.run``; epochs are scored and the final model calibrated in
``deepverify.training.validation``.

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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from deepverify.errors import ConfigError, one_line
from deepverify.model import DeepfakeDetector, ModelCard, save_checkpoint
from deepverify.training.config import TrainConfig
from deepverify.training.finetune import TUNED_NAME, interpolate_with_init, split_record
from deepverify.training.run import (
    Run,
    fixed_loader,
    freeze_backbone_prefix,
    make_card,
    seed_everything,
    setup_run,
)
from deepverify.training.validation import (
    clip_groups,
    finalize,
    predict,
    selection_score,
    validation_row,
)

__all__ = [
    "CSV_FIELDS",
    "EpochCallback",
    "StepCallback",
    "TrainResult",
    "clip_groups",
    "finalize",
    "fixed_loader",
    "freeze_backbone_prefix",
    "make_card",
    "predict",
    "seed_everything",
    "train",
]

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


def _loss(output: Any, labels: torch.Tensor, frame_weight: float) -> torch.Tensor:
    bce = nn.functional.binary_cross_entropy_with_logits
    video = bce(output.video_logits.float(), labels)
    frames = bce(output.frame_logits.float(), labels[:, None].expand_as(output.frame_logits))
    return video + frame_weight * frames


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


def _resume(run: Run, state_path: Path) -> None:
    state = torch.load(state_path, map_location=run.device, weights_only=False)
    try:
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
    except (KeyError, ValueError, RuntimeError) as exc:  # another model, freezing or lr groups
        raise ConfigError(
            f"cannot resume from {state_path}: it was saved with another model or optimiser "
            f"layout than this config's ({one_line(exc)}); use --no-resume or "
            "another --out"
        ) from exc
    run.scheduler.load_state_dict(state["scheduler"])
    run.scaler.load_state_dict(state["scaler"])
    run.start_epoch = state["epoch"] + 1
    run.best_score, run.best_epoch = state["best_auc"], state["best_epoch"]
    logger.info("resumed from %s at epoch %d", state_path, run.start_epoch)


def _train_epoch(run: Run, epoch: int, on_step: StepCallback | None) -> float:
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


def _save_epoch(run: Run, epoch: int, row: dict[str, Any]) -> None:
    """Keep the best model by the selection score, and the full state for resuming."""
    score = selection_score(row)
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
    run = setup_run(cfg)
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
                lambda m: selection_score(validation_row(m, run.val_loader, run.device)),
            )
        final = finalize(cfg.out_dir, run.calib_loader, run.device, run.val_loader, source=source)
        result = dataclasses.replace(
            result, model_path=cfg.out_dir / "model.safetensors", card=final
        )
    if run.ddp.world > 1:
        dist.barrier()
    return result


def _trained(card: ModelCard, cfg: TrainConfig, summary: dict[str, Any], epoch: int) -> ModelCard:
    return card.replace(
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
        **validation_row(model, val_loader, device),
        "lr": optimizer.param_groups[0]["lr"],
    }
