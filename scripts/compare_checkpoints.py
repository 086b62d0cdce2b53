"""Compare trained checkpoints on the held-out splits of one training config (never on eval/).

    python scripts/compare_checkpoints.py configs/cpu-ssd-paired.yaml \
        runs/cpu-ssd/model.safetensors runs/cpu-ssd-paired/model.safetensors [--json out.json]

Every checkpoint is scored on the same validation and calibration clips (the split and clips the
config defines), with its own temperature and threshold. Reported per split: video ROC AUC, log
loss and accuracy (calibrated), and the within-group AUC (a fake against the video it was made
from). This is how the shipped model is chosen between runs: a checkpoint that was trained on
another split is refused, as in training.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import torch

from deepverify.calibration import calibrated_probabilities
from deepverify.errors import DeepverifyError
from deepverify.model import load_checkpoint
from deepverify.training.clips import Preprocess, load_split_tracks
from deepverify.training.config import TrainConfig, load_config
from deepverify.training.finetune import check_same_split
from deepverify.training.metrics import classification_metrics, within_group_auc
from deepverify.training.trainer import (
    clip_groups,
    fixed_loader,
    make_card,
    predict,
)

logger = logging.getLogger("compare_checkpoints")


def _score(
    path: Path, loaders: dict[str, Any], cfg: TrainConfig, split_groups: str | None
) -> dict[str, Any]:
    model, card = load_checkpoint(path)
    check_same_split(card, cfg, str(path), split_groups)
    row: dict[str, Any] = {"checkpoint": str(path), "model_id": card.model_id}
    for split, loader in loaders.items():
        labels, logits, _ = predict(model, loader, torch.device("cpu"))
        probs = calibrated_probabilities(logits, card.temperature)
        video = classification_metrics(labels, probs, card.threshold)
        row[split] = {
            "clips": int(labels.size),
            "roc_auc": video["roc_auc"],
            "log_loss": video["log_loss"],
            "accuracy": video["accuracy"],
            "within_group_auc": within_group_auc(labels, logits, clip_groups(loader))["auc"],
        }
    return row


def main(argv: list[str] | None = None) -> int:
    """Score each checkpoint on the config's validation and calibration clips."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        cfg = load_config(args.config)
        assert cfg.data.cache is not None
        card = make_card(cfg)
        pre = Preprocess.from_card(card)
        tracks, summary = load_split_tracks([cfg.data.cache, *cfg.data.extra_caches], cfg.data)
        loaders = {
            split: fixed_loader(tracks[split], cfg, pre)
            for split in ("val", "calib")
            if tracks[split]
        }
        torch.set_num_threads(cfg.threads)
        groups = summary["split_groups_sha256"]
        rows = [_score(path, loaders, cfg, groups) for path in args.checkpoints]
    except DeepverifyError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    text = json.dumps(rows, indent=2)
    sys.stdout.write(text + "\n")
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
