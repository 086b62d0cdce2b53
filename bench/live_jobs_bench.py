"""File jobs beside live sessions (issue 26): how much longer a job takes while streams are judged.

The service runs file jobs (its in-process worker) and live sessions on threads of one process,
on one shared model (``ServiceModel``). Each measurement runs in a fresh process, through the
service's own code: ``LiveSessions`` with ``pipeline_runner`` judging ``streams`` loopback
streams (720p25 HTTP-FLV from ``python -m tests.live.sender``, in a process of its own), and,
once they have judged for ``--warmup`` seconds, a ``PipelineAnalyzer`` analysing the 720p clip
as a job would (the card's frames, heatmaps on). Reported per run:

- ``job_s`` / ``job_cpu_s``: the job's wall time, and the process's CPU seconds meanwhile
  (the sessions' included);
- ``slowdown``: ``job_s`` over the same thread setting's job alone;
- ``live_median_lag_s`` and ``live_analysed_fps``: the sessions' lag while the job ran, and
  frames judged per second per stream from the last update before the job to the first after
  it (a session drops sampled frames when it falls behind).

Runs for ``DEEPVERIFY_INFERENCE_THREADS`` 2 (the default) and 1. Figures from a busy shared
machine are noisy: compare within one run. Writes ``bench/results_live_jobs.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = Path(os.environ.get("DEEPVERIFY_SHARED_DATA", ROOT.parent / "shared" / "data"))
JOB_CLIP = SHARED / "real" / "liveportrait_s18.mp4"  # 1280x720 talking head, 9.4 s
PORT = 18932
STREAMS = (0, 2, 4)
THREADS = (2, 1)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _latest(state: Any) -> int:
    """The sequence number of a session's latest update (0 before the first)."""
    return state.updates[-1].seq if state.updates else 0


def _child(url: str, streams: int, threads: int, warmup: float) -> dict[str, Any]:
    """One measurement in this process."""
    from deepverify.service.core.settings import Settings
    from deepverify.service.jobs.analysis import PipelineAnalyzer, ServiceModel
    from deepverify.service.services.live import LiveSessions, limits_from, pipeline_runner

    settings = Settings(
        environment="development", inference_threads=threads, live_allow_private_addresses=True
    )
    shared = ServiceModel(settings)
    analyzer = PipelineAnalyzer(settings, shared=shared)  # the worker loads at start-up too
    sessions = LiveSessions(limits_from(settings), pipeline_runner(shared))
    states = [sessions.start(owner=f"user{k}", url=url) for k in range(streams)]
    time.sleep(warmup if streams else 0.0)
    before = [_latest(s) for s in states]
    start, cpu = time.monotonic(), _cpu_s()
    with tempfile.TemporaryDirectory() as out:
        report = analyzer(JOB_CLIP, out_dir=Path(out), progress=lambda stage, done: None)
    job_s, job_cpu = time.monotonic() - start, _cpu_s() - cpu
    # A job is shorter than the 1 s between updates: the frame rate is taken from the last
    # update before the job to the first one after it, so the window spans the whole job.
    after = [_latest(s) for s in states]
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and any(
        _latest(s) <= seq for s, seq in zip(states, after, strict=True)
    ):
        time.sleep(0.05)
    lags: list[float] = []
    analysed = []
    for state, seq in zip(states, before, strict=True):
        if state.error is not None:
            raise RuntimeError(state.error)
        lags += [lag for u in state.updates if u.seq > seq for lag in u.update.frame_lags_s]
        window = [u for u in state.updates if u.seq >= seq and u.seq > 0]
        if len(window) > 1 and window[0].seq == seq:
            first, last = window[0].update, window[-1].update
            judged = (last.frames_sampled - last.frames_dropped) - (
                first.frames_sampled - first.frames_dropped
            )
            analysed.append(judged / max(last.elapsed_s - first.elapsed_s, 1e-6))
    sessions.stop_all()
    return {
        "streams": streams,
        "inference_threads": threads,
        "verdict": report.verdict,
        "job_s": round(job_s, 2),
        "job_cpu_s": round(job_cpu, 2),
        "live_median_lag_s": round(statistics.median(lags), 3) if lags else None,
        "live_analysed_fps": round(statistics.mean(analysed), 2) if analysed else None,
    }


def _measure(url: str, streams: int, threads: int, warmup: float) -> dict[str, Any]:
    command = [
        sys.executable, str(Path(__file__)), "--child", "--url", url, "--streams", str(streams),
        "--threads", str(threads), "--warmup", str(warmup),
    ]  # fmt: skip
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Run the measurements; write and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results_live_jobs.json")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--streams", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.url, args.streams, args.threads, args.warmup)), flush=True)
        return
    from live_bench import _clip_720p25  # the same stream as the live benchmark

    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_average_1min": os.getloadavg()[0]},
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "job_clip": JOB_CLIP.name,
        "stream": "720p25 H.264 over HTTP-FLV, loopback; 4 sampled frames/s, heatmaps on",
        "runs": [],
    }
    sender = subprocess.Popen(
        [sys.executable, "-m", "tests.live.sender", str(_clip_720p25()), str(PORT)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert sender.stdout is not None and sender.stdout.readline().strip() == "ready"
        url = f"http://127.0.0.1:{PORT}/live.flv"
        for threads in THREADS:
            alone = None
            for streams in STREAMS:
                run = _measure(url, streams, threads, args.warmup)
                alone = run["job_s"] if streams == 0 else alone
                run["slowdown"] = round(run["job_s"] / alone, 2) if alone else None
                results["runs"].append(run)
                args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
                print(json.dumps(run), flush=True)
    finally:
        sender.kill()
        sender.wait()


if __name__ == "__main__":
    main()
