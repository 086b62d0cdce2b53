"""Compare models trained on different splits, on the videos that none of them trained on.

    python scripts/compare_held_out.py \
        runs/wild/model.onnx=configs/wild.yaml \
        src/deepverify/weights/default.onnx=configs/gpu.yaml [--json out.json]

Each MODEL=CONFIG pair names a model and the config that made its split. The videos compared are
those in the validation or calibration split of every config whose caches hold them, and in
no config's training split (a video a config's caches do not hold was never trained on by that
model). Each model scores them through the scan pipeline with its own card (temperature,
threshold, decision policy): video ROC AUC, two-class accuracy, coverage and accuracy of the
decisive verdicts. This chooses between models without touching the evaluation folders.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from deepverify.engine import load_engine
from deepverify.errors import DeepverifyError
from deepverify.faces import create_detector
from deepverify.training.config import load_config
from deepverify.training.decision_fit import collect_evidence, decide_all
from deepverify.training.items import VideoItem
from deepverify.training.metrics import classification_metrics
from deepverify.training.selective import decisive_metrics
from deepverify.training.split_tracks import split_videos


def _key(item: VideoItem) -> str:
    return str(item.path.resolve())


def held_out_videos(
    configs: list[Path], splits_kept: tuple[str, ...] = ("val", "calib")
) -> list[VideoItem]:
    """Videos in ``splits_kept`` of every config that holds them (so trained on by none).

    ``("calib",)`` leaves out the validation videos, on which the models chose their epochs.
    """
    excluded: set[str] = set()
    held: dict[str, VideoItem] = {}
    for config in configs:
        cfg = load_config(config)
        assert cfg.data.cache is not None
        splits, _ = split_videos([cfg.data.cache, *cfg.data.extra_caches], cfg.data)
        for name, items in splits.items():
            if name in splits_kept:
                for item in items:
                    held.setdefault(_key(item), item)
            else:
                excluded |= {_key(i) for i in items}
    return [item for key, item in sorted(held.items()) if key not in excluded]


def score(model: Path, items: list[VideoItem]) -> dict[str, Any]:
    """The model's figures on ``items``, its own card applied."""
    engine = load_engine(model)
    card = engine.card
    videos = collect_evidence(
        items, split="held out", model=engine, detector=create_detector(card.detector)
    )
    decisions = decide_all(videos, card.policy, card.threshold, trained=card.trained)
    rows = []
    for video, decision in zip(videos, decisions, strict=True):
        rows.append(
            {
                "file": video.item.path.name,
                "label": video.item.label,
                "verdict": decision.verdict,
                "probability": decision.probability,
                "reasons": [r.code for r in decision.reasons],
                "tracks": len(video.tracks),
            }
        )
    scored = [r for r in rows if r["probability"] is not None]
    labels = np.array([r["label"] for r in scored], dtype=int)
    probs = np.array([r["probability"] for r in scored], dtype=np.float64)
    video = classification_metrics(labels, probs, card.threshold)
    return {
        "model_id": card.model_id,
        "videos": len(rows),
        "roc_auc": video["roc_auc"],
        "accuracy": video["accuracy"],
        "log_loss": video["log_loss"],
        "decisive": decisive_metrics(rows),
    }


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", nargs="+", help="MODEL=CONFIG")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--calib-only",
        action="store_true",
        help="only videos in every holding config's calibration split (none chose an epoch)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    try:
        pairs = [tuple(Path(p) for p in pair.split("=", 1)) for pair in args.pairs]
        if any(len(pair) != 2 for pair in pairs):
            parser.error("each argument is MODEL=CONFIG")
        kept = ("calib",) if args.calib_only else ("val", "calib")
        items = held_out_videos([config for _, config in pairs], kept)
        print(f"{len(items)} videos held out by every config "
              f"({sum(i.label for i in items)} fake)")  # fmt: skip
        results = {str(model): score(model, items) for model, _ in pairs}
    except DeepverifyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for model, result in results.items():
        d = result["decisive"]
        print(f"{model}: AUC {result['roc_auc']}, accuracy {result['accuracy']}, "
              f"coverage {d['coverage']}, decisive accuracy {d['accuracy']}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
