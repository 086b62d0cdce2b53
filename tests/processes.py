"""Processes the tests start (servers, workers, the API), each in a process group of its own.

A test stops its group with :func:`kill_group` (at once, the way a machine dies) or
:func:`stop_group` (SIGTERM, then SIGKILL after a grace period). Should pytest itself die first
(killed, out of memory), a guard ends the group: a ``sh`` that blocks reading a pipe only this
process holds, and kills the group when the pipe closes. Before, such servers outlived the run
(their own sessions shield them from the terminal's signals) and held their ports.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

# The guard ignores the signals a terminal or a timeout sends the test run's group, so it is
# still there to clean up when the test run has gone; EOF on its stdin is its cue.
_GUARD = "trap '' INT TERM HUP; read _; kill -KILL \"-$0\""

# Server pid -> its guard; held so the guard's pipe stays open while the server runs.
_GUARDS: dict[int, subprocess.Popen[bytes]] = {}


def start_group(command: list[str], *, log: Path, **popen: Any) -> subprocess.Popen[bytes]:
    """Start ``command`` in a new session (its own process group), its output appended to ``log``.

    Args:
        command: The program and its arguments.
        log: File that receives stdout and stderr.
        popen: More arguments for :class:`subprocess.Popen` (``env``, ``cwd``).
    """
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, **popen,
        )  # fmt: skip
    _GUARDS[process.pid] = subprocess.Popen(
        ["sh", "-c", _GUARD, str(process.pid)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return process


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``process``'s whole group now and reap it (a crash, as the tests mean it)."""
    _signal_group(process, signal.SIGKILL)
    process.wait(10)
    _release_guard(process)


def stop_group(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Ask ``process``'s group to stop (SIGTERM); SIGKILL it after ``grace_s`` seconds."""
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait(10)
    _release_guard(process)


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    # The whole group, even when its first process has ended: a worker's children may remain.
    with contextlib.suppress(ProcessLookupError):  # nothing of the group is left
        os.killpg(process.pid, sig)


def _release_guard(process: subprocess.Popen[bytes]) -> None:
    guard = _GUARDS.pop(process.pid, None)
    if guard is not None:
        guard.kill()
        assert guard.stdin is not None
        guard.stdin.close()
        guard.wait(10)
