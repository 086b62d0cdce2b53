"""Mix two trained checkpoints in weight space, choose the mix on validation, calibrate it.

    python scripts/mix_checkpoints.py configs/gpu.yaml runs/gpu-sbi/A/model.safetensors \
        runs/gpu-dev/A/model.safetensors --weights 0.25 0.5 0.75 --out runs/gpu-mix \
        --set data.num_workers=1

A "model soup" (Wortsman et al., ICML 2022): models fine-tuned from the same pretrained weights
(here ImageNet EfficientNet-Lite0) tend to lie in one basin, where their weight average often
generalises better than either. For each weight ``w`` the mix is ``(1 - w) * first + w * second``
(the two checkpoints are ``w`` = 0 and 1); every mix is scored on the config's validation clips
by the rule that picks a training run's epoch (validation AUC, ties to the lower loss), and the
best one is calibrated (temperature and threshold) on the calibration clips and exported to
ONNX, as a training run finishes. Both checkpoints must record the config's split. The card
keeps what was mixed and every score. Evaluation data is never read.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import torch

from deepverify.errors import ConfigError, DeepverifyError
from deepverify.model import DeepfakeDetector, load_checkpoint, save_checkpoint
from deepverify.training.clips import Preprocess, load_split_tracks
from deepverify.training.config import load_config
from deepverify.training.finetune import check_same_split, choose_mix, model_state
from deepverify.training.run import calibration_loader
from deepverify.training.trainer import finalize, fixed_loader, make_card
from deepverify.training.validation import selection_score, validation_row

logger = logging.getLogger("mix_checkpoints")


def main(argv: list[str] | None = None) -> int:
    """Score each mix on validation, calibrate and export the best; print what was tried."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.25, 0.5, 0.75])
    parser.add_argument("--out", type=Path, required=True, help="folder for model.*")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="config override, as `deepverify train --set` (e.g. data.num_workers=1)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if not all(0.0 <= w <= 1.0 for w in args.weights):
        sys.stderr.write("error: mixing weights must lie in [0, 1]\n")
        return 2
    try:
        record = _mix(args)
    except DeepverifyError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stdout.write(json.dumps(record, indent=2) + "\n")
    return 0


def _mix(args: argparse.Namespace) -> dict[str, Any]:
    cfg = load_config(args.config, args.overrides)
    if cfg.data.cache is None:
        raise ConfigError(f"{args.config} names no cache (data.cache): nothing to validate on")
    torch.set_num_threads(cfg.threads)
    card = make_card(cfg)
    pre = Preprocess.from_card(card)
    tracks, summary = load_split_tracks([cfg.data.cache, *cfg.data.extra_caches], cfg.data)
    val = fixed_loader(tracks["val"], cfg, pre)
    calib = calibration_loader(tracks, val, cfg, pre)
    device = torch.device("cpu")
    model, first_card = load_checkpoint(args.first)
    other, second_card = load_checkpoint(args.second)
    for path, checkpoint_card in ((args.first, first_card), (args.second, second_card)):
        check_same_split(checkpoint_card, cfg, str(path), summary["split_groups_sha256"])
    first, second = model_state(model), model_state(other)
    del other
    scored: list[dict[str, Any]] = []

    def score(candidate: DeepfakeDetector) -> float:
        scored.append(validation_row(candidate, val, device))
        return selection_score(scored[-1])

    chosen, _ = choose_mix(model, first, second, args.weights, score)
    rows = dict(zip((f"{w:g}" for w in sorted(set(args.weights))), scored, strict=True))
    record = {
        "first": first_card.model_id,
        "second": second_card.model_id,
        "weight_of_second": chosen,
        "validation": rows,
    }
    mixed = first_card.replace(training_data={**first_card.training_data, "weight_mix": record})
    args.out.mkdir(parents=True, exist_ok=True)
    source = args.out / "mixed.safetensors"
    save_checkpoint(model, mixed, source)
    final = finalize(args.out, calib, device, val, source=source)
    return {**record, "model_id": final.model_id, "temperature": final.temperature,
            "threshold": final.threshold}  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
