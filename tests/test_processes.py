"""The tests' own servers stop with the tests, even when the test run is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests import processes
from tests.processes import kill_group, start_group, stop_group

REPO = Path(__file__).resolve().parents[1]

# A stand-in for a test run: starts a server through start_group, says its pid, then waits to
# be killed.
_RUN = """
import sys, time
from pathlib import Path
from tests.processes import start_group
server = start_group(["sleep", "300"], log=Path(sys.argv[1]))
print(server.pid, flush=True)
time.sleep(300)
"""


def _stat(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its parent is not)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def _group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        stat = _stat(entry.name) if entry.name.isdigit() else None
        if stat is not None and stat[2] == str(pgid) and stat[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_server_ends_when_the_test_run_is_killed(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen(
        [sys.executable, "-c", _RUN, str(tmp_path / "server.log")],
        stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    server = None
    try:
        assert run.stdout is not None
        server = int(run.stdout.readline())
        assert _running(server)
        run.kill()  # SIGKILL: no cleanup of its own runs
        run.wait(10)
        assert _gone_within(server, 10)
    finally:
        run.kill()
        run.wait(10)
        if server is not None and _group_members(server):
            os.killpg(server, signal.SIGKILL)


def test_stopping_a_group_ends_it_and_its_guard(tmp_path):
    for stop in (kill_group, stop_group):
        # A shell that starts a child in its group: the child must end too.
        server = start_group(["sh", "-c", "sleep 300 & wait"], log=tmp_path / "log")
        guard = processes._GUARDS[server.pid]
        stop(server)
        assert server.returncode is not None
        assert guard.returncode is not None and server.pid not in processes._GUARDS
        assert _group_members(server.pid) == []
