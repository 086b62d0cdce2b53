"""Fixtures for live mode: a tiny model, a detector, and loopback streams served from a clip."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest

from deepverify.engine import Engine, load_engine
from deepverify.faces import FaceDetector, create_detector
from deepverify.live.options import LiveOptions
from deepverify.live.session import run_live
from deepverify.live.updates import LiveUpdate
from tests.conftest import REPO
from tests.live.sender import short_gop_copy


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint: Path) -> Engine:
    return load_engine(tiny_checkpoint)


@pytest.fixture(scope="session")
def ssd() -> FaceDetector:
    return create_detector("opencv-ssd")


@pytest.fixture(scope="session")
def stream_clip(real_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real clip with a keyframe every second (a live reader starts at a keyframe)."""
    return short_gop_copy(real_clip, tmp_path_factory.mktemp("live") / "clip.mp4")


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sender:
    """``python -m tests.live.sender`` in its own process: an HTTP-FLV stream on loopback."""

    def __init__(self, clip: Path, port: int) -> None:
        self.clip, self.port = clip, port
        self.url = f"http://127.0.0.1:{port}/live.flv"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.live.sender", str(self.clip), str(self.port)],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture
def sender(stream_clip: Path) -> Iterator[Callable[[], Sender]]:
    """Make a started sender on a free port; every one is killed at the end."""
    made: list[Sender] = []

    def make() -> Sender:
        one = Sender(stream_clip, free_port())
        one.start()
        made.append(one)
        return one

    yield make
    for one in made:
        one.kill()


class Restartable(Protocol):
    """A loopback stream sender that can be killed and started again."""

    url: str

    def start(self) -> None: ...

    def kill(self) -> None: ...


def judge_across_a_restart(
    stream: Restartable,
    *,
    model: Engine,
    detector: FaceDetector,
    options: LiveOptions,
    frames_after: int,
) -> tuple[list[LiveUpdate], int]:
    """Judge ``stream``, killing its sender after the second update and restarting it 2 s later.

    Stops once the session has reconnected and sampled ``frames_after`` more frames (or ends).

    Returns:
        Every update, and the frames sampled when the sender was killed.
    """
    seen: list[LiveUpdate] = []
    killed_at = 0
    restart = threading.Timer(2.0, stream.start)
    try:
        for update in run_live(stream.url, model=model, detector=detector, options=options):
            seen.append(update)
            if len(seen) == 2:
                stream.kill()
                killed_at = update.frames_sampled
                restart.start()
            if update.reconnects and update.frames_sampled >= killed_at + frames_after:
                break
    finally:
        if restart.is_alive():
            restart.join()  # so that the fixture stops the restarted sender
    return seen, killed_at
