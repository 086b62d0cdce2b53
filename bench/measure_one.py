"""One benchmark measurement in a fresh process; prints a JSON line (see ``run_bench.py``).

Modes: ``analyze`` times :func:`deepverify.pipeline.analyze_video` in-process, stage by stage;
``decode`` times decoding every frame of the file and nothing else; ``provenance`` times
``deepverify.provenance.read_provenance`` when that module exists. ``peak_rss_mb`` is this
process's own high-water mark (``VmHWM``), which a new program image starts from zero;
``cpu_s`` the CPU seconds (user + system, all threads) the analysis itself used.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import tempfile
import time
from pathlib import Path

import av


def vm_hwm_mb() -> float:
    """Peak resident memory of this process image, from ``/proc/self/status`` (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def decode_only(path: Path) -> dict[str, object]:
    """Seconds to decode every frame of the file with PyAV (threaded), converting nothing."""
    start, cpu = time.perf_counter(), cpu_seconds()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass
    return {
        "decode_s": round(time.perf_counter() - start, 4),
        "cpu_s": round(cpu_seconds() - cpu, 3),
        "peak_rss_mb": vm_hwm_mb(),
    }


def provenance(path: Path) -> dict[str, object]:
    """Seconds ``read_provenance(path)`` takes, or ``None`` while it does not exist."""
    try:
        read = importlib.import_module("deepverify.provenance").read_provenance
    except (ImportError, AttributeError):
        return {"provenance_s": None}
    start = time.perf_counter()
    read(path)
    return {"provenance_s": round(time.perf_counter() - start, 4), "peak_rss_mb": vm_hwm_mb()}


def analyze(
    path: Path, model_path: Path | None, detector_name: str, frames: int
) -> dict[str, object]:
    """Time ``analyze_video`` on ``path`` with heatmaps, writing the report to a temp folder."""
    from deepverify.engine import load_engine
    from deepverify.faces import create_detector
    from deepverify.pipeline import analyze_video

    model = load_engine(model_path, threads=2)  # the base install's engine: no torch here
    detector = create_detector(detector_name or model.card.detector)  # as `scan` chooses
    with tempfile.TemporaryDirectory() as out:
        start, cpu = time.perf_counter(), cpu_seconds()
        report = analyze_video(path, model=model, detector=detector, num_frames=frames,
                               out_dir=Path(out) / "r", explain=True)  # fmt: skip
        e2e, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    return {
        "seconds": report.video.duration_s,
        "resolution": f"{report.video.width}x{report.video.height}",
        "e2e_s": round(e2e, 4),
        "cpu_s": round(cpu, 3),
        "realtime_factor": round(e2e / max(report.video.duration_s, 1e-6), 4),
        "stages_s": report.timings,
        "verdict": report.verdict,
        "probability": report.probability,
        "faces": sum(len(f.faces) for f in report.frames),
        "peak_rss_mb": vm_hwm_mb(),
    }


def main() -> None:
    """Measure one stage (analyze, decode or provenance) of one clip in this process."""
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["analyze", "decode", "provenance"])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--model", type=Path, default=None, help="default: the packaged model")
    parser.add_argument("--detector", default=None, help="default: the model card's")
    parser.add_argument("--frames", type=int, default=32)
    args = parser.parse_args()
    if args.mode == "decode":
        result = decode_only(args.clip)
    elif args.mode == "provenance":
        result = provenance(args.clip)
    else:
        result = analyze(args.clip, args.model, args.detector, args.frames)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
