"""One benchmark measurement in a fresh process; prints a JSON line (see ``run_bench.py``)."""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import av


def decode_only(path: Path) -> float:
    """Seconds to decode every frame of the file with PyAV (threaded), converting nothing."""
    start = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("clip", type=Path)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--decode-only", action="store_true")
    args = parser.parse_args()
    if args.decode_only:
        print(json.dumps({"decode_s": round(decode_only(args.clip), 4)}))
        return

    import torch

    from deepverify.faces import create_detector
    from deepverify.pipeline import analyze_video, load_model

    torch.set_num_threads(2)
    model = load_model(args.model)
    detector = create_detector("opencv-ssd")
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        report = analyze_video(args.clip, model=model, detector=detector, num_frames=32,
                               out_dir=Path(out) / "r", explain=True)  # fmt: skip
        e2e = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "seconds": report.video.duration_s,
        "resolution": f"{report.video.width}x{report.video.height}",
        "e2e_s": round(e2e, 4),
        "realtime_factor": round(e2e / max(report.video.duration_s, 1e-6), 4),
        "stages_s": report.timings,
        "verdict": report.verdict,
        "faces": sum(len(f.faces) for f in report.frames),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
