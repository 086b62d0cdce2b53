"""Real stream servers on loopback for live tests and the bench: ffmpeg and rtsp-server-perl.

- :class:`RtmpSender`: ``ffmpeg -re -stream_loop -1 -i CLIP -c copy -f flv -listen 1
  rtmp://127.0.0.1:PORT/live/x``, the clip's packets served over RTMP at real speed to one
  reader (ffmpeg ends when that reader leaves); with ``stamped``, :mod:`tests.live.stamp` feeds
  ffmpeg frames carrying their emission time instead.
- :class:`RtspRelay`: Debian's ``rtsp-server-perl`` with ffmpeg publishing the clip to it;
  the relay serves many readers at once, over RTP on UDP only (it has no TCP transport).

Both programs come from Debian (``apt-get install ffmpeg rtsp-server-perl``, as ``.ci/run``
does); a test that needs one skips without it, and fails under ``DEEPVERIFY_REQUIRE_SERVICES=1``.
Each server runs in a process group of its own (:mod:`tests.processes`); ``kill()`` ends all of
it, the way a stream goes down.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.processes import kill_group, start_group
from tests.required import need_program

START_TIMEOUT_S = 20.0
REPO = Path(__file__).resolve().parents[2]


def listening(port: int) -> bool:
    """Whether a TCP socket listens on ``port`` of 127.0.0.1.

    Read from ``/proc/net/tcp``, not by connecting: a connection would be the one reader an
    ``ffmpeg -listen 1`` serves.
    """
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/tcp", encoding="ascii") as table:
        return any(
            fields[1] == wanted and fields[3] == "0A"  # 0A: LISTEN
            for fields in (line.split() for line in table.readlines()[1:])
        )


def wait_listening(port: int, process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Wait until ``process`` listens on ``port``.

    Raises:
        RuntimeError: It ended first, or it did not listen within :data:`START_TIMEOUT_S`.
    """
    deadline = time.monotonic() + START_TIMEOUT_S
    while not listening(port):
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} ended ({process.returncode}) before listening")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.args!r} did not listen on {port} in {START_TIMEOUT_S} s")
        time.sleep(0.05)


def free_udp_port() -> int:
    """A UDP port nothing is bound to now (the ports after it are very likely free too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None:
        kill_group(process)


class RtmpSender:
    """ffmpeg serving a clip, looped at real speed, over RTMP to one reader (see the module)."""

    def __init__(self, clip: Path, port: int, log: Path, *, stamped: bool = False) -> None:
        self.clip, self.port, self.log, self.stamped = clip, port, log, stamped
        self.url = f"rtmp://127.0.0.1:{port}/live/x"
        self.process: subprocess.Popen[bytes] | None = None
        need_program("ffmpeg", package="ffmpeg")

    def start(self) -> None:
        """Start serving; returns once ffmpeg listens."""
        if self.stamped:
            command = [sys.executable, "-m", "tests.live.stamp", str(self.clip), self.url]
        else:
            command = [
                "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
                "-re", "-stream_loop", "-1", "-i", str(self.clip),
                "-c", "copy", "-f", "flv", "-listen", "1", self.url,
            ]  # fmt: skip
        self.process = start_group(command, log=self.log, cwd=REPO)
        wait_listening(self.port, self.process)

    def kill(self) -> None:
        _stop(self.process)
        self.process = None


class RtspRelay:
    """rtsp-server-perl relaying a clip that ffmpeg publishes to it (see the module).

    Attributes:
        url: Where readers read the stream.
    """

    def __init__(self, clip: Path, ports: tuple[int, int], folder: Path) -> None:
        """Args: ``ports``: the readers' port and the publisher's; ``folder``: for the logs."""
        self.clip, self.folder = clip, folder
        self.reader_port, self.publisher_port = ports
        self.url = f"rtsp://127.0.0.1:{self.reader_port}/live"
        self.server: subprocess.Popen[bytes] | None = None
        self.publisher: subprocess.Popen[bytes] | None = None
        self._relay = need_program("rtsp-server-perl", package="rtsp-server-perl")
        need_program("ffmpeg", package="ffmpeg")

    def start(self) -> None:
        """Start the relay and the publisher; returns once the stream flows through the relay."""
        # The relay sends RTP from consecutive UDP ports: start them where nothing else is.
        self.server = start_group(
            [
                self._relay, "--clientport", str(self.reader_port),
                "--serverport", str(self.publisher_port),
                "--client_listen_address", "127.0.0.1", "--source_listen_address", "127.0.0.1",
                "--rtp_start_port", str(free_udp_port()), "--loglevel", "3",
            ],
            log=self.folder / "rtsp-server.log",
            cwd=REPO,
        )  # fmt: skip
        for port in (self.reader_port, self.publisher_port):
            wait_listening(port, self.server)
        # Readiness from ffmpeg's progress report, not by asking the relay: every connection it
        # closes while nothing is published resets its UDP ports to the fixed 20000.
        progress = self.folder / "publisher.progress"
        progress.unlink(missing_ok=True)
        self.publisher = start_group(
            [
                "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
                "-re", "-stream_loop", "-1", "-i", str(self.clip), "-c", "copy",
                "-progress", str(progress), "-stats_period", "0.2",
                "-f", "rtsp", "-rtsp_transport", "udp",
                f"rtsp://127.0.0.1:{self.publisher_port}/live",
            ],
            log=self.folder / "publisher.log",
            cwd=REPO,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while "progress=" not in (progress.read_text() if progress.is_file() else ""):
            if self.publisher.poll() is not None or time.monotonic() > deadline:
                log = (self.folder / "publisher.log").read_text(errors="replace")
                raise RuntimeError(f"ffmpeg did not publish to the relay: {log.strip()}")
            time.sleep(0.05)

    def kill(self) -> None:
        _stop(self.publisher)
        _stop(self.server)
        self.publisher = self.server = None
