"""Bounded load test of the verification service, on loopback only; stops by itself.

Starts a real ``deepverify serve`` on a free 127.0.0.1 port with a tiny random-weight model and a
throwaway ``DEEPVERIFY_HOME``, registers a few users, uploads distinct short face clips all at once
(default 50 by 5 users), follows each job to its end, checks that every upload produced exactly
one result (none lost), and writes latency percentiles and throughput as JSON.

    .venv/bin/python scripts/load_test.py --out bench/load_results.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx

from deepverify.service.core.models import FINISHED_STATUSES, JobStatus

logger = logging.getLogger("load_test")
REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # loopback only, by construction
PASSWORD = "load-test-password"


@dataclass
class Upload:
    """One upload's fate."""

    user: int
    clip: int
    video_id: str | None = None
    status: str = "not sent"
    error: str | None = None
    upload_s: float | None = None  # request sent -> 202
    end_to_end_s: float | None = None  # request sent -> job done/failed
    verdict: str | None = None
    events: list[str] = field(default_factory=list)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def make_checkpoint(folder: Path) -> Path:
    """A tiny random-weight model (the same shape the test suite uses)."""
    import torch

    from deepverify.model import ModelCard, build_model, save_checkpoint
    from deepverify.model.export import export_onnx

    torch.manual_seed(0)
    card = ModelCard.for_backbone("efficientnet_lite0", input_size=64, frames=8, lstm_hidden=16)
    path = folder / "tiny.safetensors"
    save_checkpoint(build_model(card, pretrained=False), card, path)
    export_onnx(path)  # the service's default engine runs the ONNX graph
    return path


def make_clips(folder: Path, count: int, face: Path | None, seconds: float) -> list[Path]:
    """``count`` distinct short H.264 clips: a face picture drifting a little, one drift each."""
    import av
    import cv2
    import numpy as np

    size = 160
    base = np.full((size, size, 3), 128, np.uint8)
    picture = cv2.imread(str(face)) if face is not None else None
    if picture is not None:
        base = np.asarray(cv2.cvtColor(cv2.resize(picture, (size, size)), cv2.COLOR_BGR2RGB))
    fps = 10
    clips = []
    for n in range(count):
        path = folder / f"clip{n:03d}.mp4"
        with av.open(str(path), "w") as out:
            stream = out.add_stream("libx264", rate=Fraction(fps))
            stream.width = stream.height = size
            stream.pix_fmt = "yuv420p"
            for i in range(max(2, round(fps * seconds))):
                image = np.roll(base, shift=(n % 7) + i, axis=1).astype(np.uint8)
                image[:4, : n + 1] = 255  # the clip's number: every clip's bytes differ
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        clips.append(path)
    return clips


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50, p95 and max (seconds, 3 decimals); None when there is nothing to measure."""
    if not values:
        return {"p50": None, "p95": None, "max": None, "mean": None}
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else None
    return {
        "p50": round(statistics.median(ordered), 3),
        "p95": round(cuts[94] if cuts else ordered[0], 3),
        "max": round(ordered[-1], 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


async def run_one(
    client: httpx.AsyncClient, token: str, item: Upload, clip: Path, deadline: float
) -> None:
    """Upload one clip and poll its job until it ends (or the deadline passes)."""
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    try:
        files = {"file": (clip.name, clip.read_bytes(), "video/mp4")}
        response = await client.post("/api/videos", headers=headers, files=files)
        item.upload_s = time.perf_counter() - started
        if response.status_code != 202:
            item.status, item.error = "refused", f"{response.status_code}: {response.text[:200]}"
            return
        item.video_id = response.json()["id"]
        item.status = response.json()["status"]
        while time.monotonic() < deadline:
            body = (await client.get(f"/api/videos/{item.video_id}", headers=headers)).json()
            if body["status"] != item.status:
                item.events.append(body["status"])
            item.status = body["status"]
            if item.status in FINISHED_STATUSES:
                item.end_to_end_s = time.perf_counter() - started
                item.verdict, item.error = body.get("verdict"), body.get("error")
                return
            await asyncio.sleep(0.25)
        item.error = "timed out"
    except httpx.HTTPError as exc:
        item.status, item.error = "error", f"{type(exc).__name__}: {exc}"


async def drive(base_url: str, clips: list[Path], users: int, timeout: float) -> dict[str, Any]:
    """Sign up ``users`` users, upload every clip at once, and account for every result."""
    limits = httpx.Limits(max_connections=len(clips) + 10)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
        tokens = []
        for u in range(users):
            email = f"load{u}@example.com"
            await client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
            login = await client.post(
                "/api/auth/login", data={"username": email, "password": PASSWORD}
            )
            login.raise_for_status()
            tokens.append(login.json()["access_token"])
        items = [Upload(user=i % users, clip=i) for i in range(len(clips))]
        deadline = time.monotonic() + timeout
        started = time.perf_counter()
        await asyncio.gather(
            *(run_one(client, tokens[it.user], it, clips[it.clip], deadline) for it in items)
        )
        wall = time.perf_counter() - started
        # Lost = accepted uploads the server no longer accounts for as finished.
        listed: set[str] = set()
        for token in tokens:
            page = await client.get(
                "/api/videos", headers={"Authorization": f"Bearer {token}"}, params={"limit": 100}
            )
            listed |= {v["id"] for v in page.json()["data"] if v["status"] in FINISHED_STATUSES}
    accepted = [it for it in items if it.video_id]
    finished = [it for it in accepted if it.status in FINISHED_STATUSES]
    lost = [
        it for it in accepted if it.video_id not in listed or it.status not in FINISHED_STATUSES
    ]
    return {
        "uploads": len(items),
        "users": users,
        "accepted": len(accepted),
        "refused": sum(it.status == "refused" for it in items),
        "transport_errors": sum(it.status == "error" for it in items),
        "done": sum(it.status == JobStatus.DONE for it in items),
        "failed": sum(it.status == JobStatus.FAILED for it in items),
        "results": len(finished),
        "lost": len(lost) + (len(items) - len(accepted)),
        "distinct_video_ids": len({it.video_id for it in accepted}),
        "verdicts": {v: sum(it.verdict == v for it in items) for v in ("REAL", "FAKE", "NO_FACE")},
        "wall_s": round(wall, 3),
        "throughput_jobs_per_s": round(len(finished) / wall, 3) if wall else None,
        "upload_latency_s": percentiles([it.upload_s for it in items if it.upload_s is not None]),
        "end_to_end_latency_s": percentiles(
            [it.end_to_end_s for it in finished if it.end_to_end_s is not None]
        ),
        "problems": [asdict(it) for it in items if it.status != JobStatus.DONE][:10],
    }


async def brute_force(base_url: str, attempts: int) -> dict[str, Any]:
    """Guess one account's password ``attempts`` times, then try the right one: how throttled?"""
    email = "victim@example.com"
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        await client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
        codes: list[int] = []
        retry_after: str | None = None
        started = time.perf_counter()
        for i in range(attempts):
            form = {"username": email, "password": f"guess-{i}"}
            response = await client.post("/api/auth/login", data=form)
            codes.append(response.status_code)
            retry_after = response.headers.get("Retry-After", retry_after)
        wall = time.perf_counter() - started
        right = await client.post("/api/auth/login", data={"username": email, "password": PASSWORD})
    return {
        "attempts": attempts,
        "checked_401": codes.count(401),
        "refused_429": codes.count(429),
        "first_429_at": codes.index(429) + 1 if 429 in codes else None,
        "retry_after_s": int(retry_after) if retry_after else None,
        "wall_s": round(wall, 2),
        "guesses_per_s": round(attempts / wall, 1) if wall else None,
        "right_password_while_locked": right.status_code,
    }


def wait_ready(base_url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Block until ``/api/ready`` says ready; raise if the server dies or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{base_url}/api/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the server was not ready within {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    """Run the load test and write its figures; the exit status says whether it passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "load_results.json")
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="server's concurrent analyses")
    parser.add_argument("--frames", type=int, default=8, help="frames sampled per video")
    parser.add_argument("--clip-seconds", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=600, help="overall limit, seconds")
    parser.add_argument("--guesses", type=int, default=50, help="wrong passwords, one account")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here

    shared = Path(os.environ.get("DEEPVERIFY_SHARED_DATA", REPO.parent / "shared" / "data"))
    os.environ.setdefault("DEEPVERIFY_DETECTOR_DIR", str(REPO.parent / "shared" / "models"))
    scratch = Path(tempfile.mkdtemp(prefix="deepverify-load-"))
    proc: subprocess.Popen[bytes] | None = None
    result: dict[str, Any] = {}
    try:
        checkpoint = make_checkpoint(scratch)
        clips = make_clips(
            scratch, args.uploads, shared / "images" / "astronaut.png", args.clip_seconds
        )
        port = free_port()
        base_url = f"http://{HOST}:{port}"
        env = {
            **os.environ,
            "DEEPVERIFY_HOME": str(scratch / "home"),
            "DEEPVERIFY_HOST": HOST,
            "DEEPVERIFY_PORT": str(port),
            "DEEPVERIFY_MODEL_PATH": str(checkpoint),
            "DEEPVERIFY_NUM_FRAMES": str(args.frames),
            "DEEPVERIFY_WORKER_CONCURRENCY": str(args.workers),
            "DEEPVERIFY_INFERENCE_THREADS": "1",
        }
        env.pop("DEEPVERIFY_DATABASE_URL", None)
        env.pop("DEEPVERIFY_BROKER_URL", None)
        command = [str(Path(sys.executable).with_name("deepverify")), "serve"]
        log = (scratch / "server.log").open("wb")
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        logger.info("server %s starting (pid %d)", base_url, proc.pid)
        wait_ready(base_url, proc, timeout=min(180.0, args.timeout))
        logger.info("ready; %d uploads by %d users", args.uploads, args.users)
        if args.uploads:
            result = asyncio.run(drive(base_url, clips, args.users, args.timeout))
        else:
            result = {"lost": 0, "results": 0}
        result["brute_force"] = asyncio.run(brute_force(base_url, args.guesses))
        logger.info("brute force: %s", result["brute_force"])
    except Exception as exc:
        logger.error("load test aborted: %s", exc)
        result = {"error": str(exc), "lost": args.uploads}
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc is not None and result.get("error"):
            tail = (scratch / "server.log").read_text(errors="replace")[-2000:]
            result["server_log_tail"] = tail
        shutil.rmtree(scratch, ignore_errors=True)
    result.update(
        {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": vars(args) | {"out": str(args.out)},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "server": {"host": HOST, "worker": "in-process", "database": "sqlite"},
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    logger.info(
        "results %s/%s, lost %s, p50 %s s, p95 %s s, %s jobs/s -> %s",
        result.get("results"), args.uploads, result.get("lost"),
        result.get("end_to_end_latency_s", {}).get("p50"),
        result.get("end_to_end_latency_s", {}).get("p95"),
        result.get("throughput_jobs_per_s"), args.out,
    )  # fmt: skip
    ok = (
        not result.get("error")
        and result.get("lost") == 0
        and result.get("results") == args.uploads
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
