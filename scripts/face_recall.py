"""Face recall on every clip of ../shared/data (eval/, train/, real/).

How many sampled frames get a face, with the first detection pass alone and with the second pass
(contrast-equalised tiles, confirmed by tracking) that ``scan`` uses, next to the manifests' own
``face_frac``.

    python scripts/face_recall.py [--data ../shared/data] [--detector opencv-ssd] \
        [--out bench/face_recall.json]

Recall here is the share of sampled frames covered by a track that ``scan`` would score; the
manifests' ``face_frac`` counts frontal SSD hits on 8 or 16 evenly spaced frames, so the two are
comparable but not identical. Photos count as one frame.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from statistics import mean
from typing import Any

import cv2

from deepverify.faces import create_detector
from deepverify.faces.base import FaceDetector
from deepverify.faces.rescue import RescuingDetector
from deepverify.faces.tracks import link_tracks
from deepverify.training.datasets import IMAGE_EXTENSIONS, MANIFEST_NAME
from deepverify.video.frames import sample_frames

MIN_TRACK_FRACTION = 0.2  # the pipeline's rule for scored tracks


def _manifest_rows(data: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for path in (data / MANIFEST_NAME, data / "train" / MANIFEST_NAME):
        if not path.is_file():
            continue
        loaded = json.loads(path.read_text(encoding="utf-8"))
        lists = loaded.values() if isinstance(loaded, dict) else [loaded]
        for entries in lists:
            for row in entries if isinstance(entries, list) else []:
                rows[row["file"]] = row
    return rows


def _covered(detections: list[list[Any]]) -> tuple[float, int]:
    tracks = link_tracks(detections)
    least = max(1, math.ceil(MIN_TRACK_FRACTION * len(detections)))
    scored = [t for t in tracks if len(t.positions) >= least] or tracks[:1]
    frames = {p for t in scored for p in t.positions}
    return len(frames) / max(1, len(detections)), len(scored)


def _images(path: Path, frames: int) -> list[Any]:
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return [cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)]
    return [f.image for f in sample_frames(path, frames)[1]]


def measure(path: Path, detector: RescuingDetector, frames: int) -> dict[str, Any]:
    """First-pass and two-pass recall of one clip."""
    images = _images(path, frames)
    first = [detector.base.detect(image) for image in images]
    both = [found or detector.rescue(image) for found, image in zip(first, images, strict=True)]
    first_recall, _ = _covered(first)
    recall, tracks = _covered(both)
    return {
        "frames": len(images),
        "recall_first_pass": round(first_recall, 3),
        "recall": round(recall, 3),
        "tracks": tracks,
        "rescued_frames": sum(1 for f, b in zip(first, both, strict=True) if not f and b),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure every clip and write the JSON report; print a summary per folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--detector", default="opencv-ssd")
    parser.add_argument("--out", type=Path, default=Path("bench/face_recall.json"))
    args = parser.parse_args(argv)
    detector: FaceDetector = create_detector(args.detector)
    assert isinstance(detector, RescuingDetector)
    rows = _manifest_rows(args.data)
    results = []
    for rel, row in sorted(rows.items()):
        if rel.split("/")[0] not in ("eval", "train", "real") or not (args.data / rel).is_file():
            continue
        entry = {"file": rel, "label": row.get("label"), "manifest_face_frac": row.get("face_frac")}
        entry.update(measure(args.data / rel, detector, args.frames))
        results.append(entry)
        print(f"{rel}: {entry['recall_first_pass']:.2f} -> {entry['recall']:.2f}", file=sys.stderr)
    summary = {}
    for folder in ("eval", "train", "real"):
        part = [r for r in results if r["file"].startswith(folder + "/")]
        if part:
            summary[folder] = {
                "clips": len(part),
                "mean_recall_first_pass": round(mean(r["recall_first_pass"] for r in part), 3),
                "mean_recall": round(mean(r["recall"] for r in part), 3),
                "clips_without_face": sum(r["recall"] == 0 for r in part),
                "clips_below_manifest": sum(
                    r["recall"] + 1e-9 < (r["manifest_face_frac"] or 0) for r in part
                ),
            }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "clips": results}, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
