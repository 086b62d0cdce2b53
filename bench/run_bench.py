"""Pipeline benchmark: speed and memory of ``analyze_video`` on real and generated clips.

Each measurement runs in a fresh subprocess (``bench/measure_one.py``) so that peak RSS is the
pipeline's own and one clip cannot warm another's caches. Writes a JSON file with per-stage
seconds per video and the headline figures:

- ``median_realtime_factor``: end-to-end seconds / clip seconds, median over the clips.
- ``e2e_over_decode_1080p``: end-to-end time / time to only decode the same file, for the
  generated 10 s 1080p clip.
- ``peak_rss_mb``: the largest peak resident memory of any run.

Targets (2 CPU cores, efficientnet_lite0, 32 frames, Grad-CAM on): realtime factor <= 0.3,
e2e/decode <= 2.5, peak RSS <= 1500 MB, also for a 5-minute 1080p clip; resnext50_32x4d
realtime factor <= 1.0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("DEEPVERIFY_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
CACHE = HERE / ".cache"
SOURCE_CLIP = SHARED / "real" / "liveportrait_s18.mp4"  # 1280x720 talking head, 9.4 s


def generate_1080p(path: Path, seconds: float, fps: int = 30) -> Path:
    """Encode a 1080p H.264 clip of a real talking face (a real clip upscaled and looped)."""
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(SOURCE_CLIP)) as source:
        frames = [
            cv2.resize(f.to_ndarray(format="rgb24"), (1920, 1080), interpolation=cv2.INTER_LINEAR)
            for f in source.decode(video=0)
        ]
    tmp = path.with_suffix(".partial.mp4")
    total = int(seconds * fps)
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        stream.time_base = Fraction(1, fps)
        for i in range(total):
            # Ping-pong through the source so motion stays continuous.
            cycle = 2 * len(frames) - 2
            j = i % cycle
            image = frames[j if j < len(frames) else cycle - j]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    tmp.replace(path)
    return path


def measure(clip: Path, checkpoint: Path, *, decode_only: bool = False) -> dict[str, object]:
    """Run one measurement in a fresh interpreter and return its JSON result."""
    cmd = [sys.executable, str(HERE / "measure_one.py"), str(clip), "--model", str(checkpoint)]
    if decode_only:
        cmd.append("--decode-only")
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def make_checkpoint(backbone: str, directory: Path) -> Path:
    """The packaged default model for efficientnet_lite0 if present, else a fresh one."""
    from deepverify.model import ModelCard, build_model, default_model_path, save_checkpoint

    default = default_model_path()
    if backbone == "efficientnet_lite0" and default is not None:
        return default
    card = ModelCard(backbone=backbone, input_size=224, frames=32)
    path = directory / f"{backbone}.safetensors"
    # Speed does not depend on the weights' values; random init needs no download.
    save_checkpoint(build_model(card, pretrained=False), card, path)
    from deepverify.model.export import export_onnx

    export_onnx(path)  # scans run on the default (ONNX) engine
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--skip-long", action="store_true", help="skip the 5-minute clip")
    args = parser.parse_args()

    clips = sorted((SHARED / "eval").rglob("*.mp4"))
    clip_1080p = generate_1080p(CACHE / "face_1080p_10s.mp4", 10.0)
    results: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": {"frames": 32, "gradcam": True, "detector": "opencv-ssd"},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for backbone in ("efficientnet_lite0", "resnext50_32x4d"):
            checkpoint = make_checkpoint(backbone, Path(tmp))
            runs = {c.name: measure(c, checkpoint) for c in [*clips, clip_1080p]}
            factors = [r["realtime_factor"] for r in runs.values()]
            decode = measure(clip_1080p, checkpoint, decode_only=True)
            summary: dict[str, object] = {
                "median_realtime_factor": round(statistics.median(factors), 4),  # type: ignore[type-var]
                "e2e_over_decode_1080p": round(
                    runs[clip_1080p.name]["e2e_s"] / decode["decode_s"],
                    3,  # type: ignore[operator]
                ),
                "decode_only_1080p_s": decode["decode_s"],
                "peak_rss_mb": max(r["peak_rss_mb"] for r in runs.values()),  # type: ignore[type-var]
                "per_video": runs,
            }
            if backbone == "efficientnet_lite0" and not args.skip_long:
                long_clip = generate_1080p(CACHE / "face_1080p_300s.mp4", 300.0)
                long_run = measure(long_clip, checkpoint)
                long_decode = measure(long_clip, checkpoint, decode_only=True)
                summary["long_1080p_5min"] = {
                    **long_run,
                    "decode_only_s": long_decode["decode_s"],
                    "e2e_over_decode": round(long_run["e2e_s"] / long_decode["decode_s"], 3),  # type: ignore[operator]
                }
            results[backbone] = summary
    headline = results["efficientnet_lite0"]
    assert isinstance(headline, dict)
    for key in ("median_realtime_factor", "e2e_over_decode_1080p"):
        results[key] = headline[key]
    # Peak memory over every efficientnet_lite0 run, the 5-minute clip included.
    long_run = headline.get("long_1080p_5min", {})
    results["peak_rss_mb"] = max(headline["peak_rss_mb"], long_run.get("peak_rss_mb", 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(json.dumps({k: results[k] for k in ("median_realtime_factor", "e2e_over_decode_1080p",
                                               "peak_rss_mb")}))  # fmt: skip


if __name__ == "__main__":
    main()
