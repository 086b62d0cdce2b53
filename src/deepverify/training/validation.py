"""Prediction, validation metrics and the final calibration of a training run.

``predict`` runs a model over a loader of fixed clips; ``validation_row`` and ``selection_score``
are how each epoch is scored and the best one chosen; ``finalize`` fits temperature and threshold
of the chosen model on the calibration split and writes (and exports) ``model.safetensors``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from deepverify.calibration import calibrated_probabilities, sigmoid
from deepverify.model import DeepfakeDetector, ModelCard, save_checkpoint
from deepverify.training.clips import FixedClips
from deepverify.training.finetune import TUNED_NAME
from deepverify.training.metrics import (
    calibration_warning,
    classification_metrics,
    fit_temperature,
    fit_threshold,
    within_group_auc,
)

logger = logging.getLogger(__name__)


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


def selection_score(row: dict[str, Any]) -> float:
    """Validation AUC, ties broken by the lower validation loss.

    A small validation set often reaches AUC 1.0 early; without an AUC (one class, or no
    validation), minus a loss.
    """
    loss = row["val_loss"] if math.isfinite(row["val_loss"]) else row.get("train_loss", 10.0)
    if row["val_auc"] is not None:
        return float(row["val_auc"]) - 1e-3 * min(float(loss), 10.0)
    return -1.0 - float(loss)


def validation_row(
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
    final = card.replace(
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
