"""Run one command as a whole process and report its wall time and its own peak memory.

Started fresh by ``run_bench.py`` (``python bench/launch.py -- CMD...``), this launcher is a small
process: the measured command is forked from it, and on Linux a child's ``ru_maxrss`` starts from
the memory of the process it was forked from. Forking from this launcher (a few tens of MB)
rather than from the benchmark (which may have held large frames) keeps the figure the
command's own; ``launcher_rss_mb`` says how much of it could be inherited. Prints one JSON line:
``wall_s``, ``peak_rss_mb``, ``launcher_rss_mb``, ``returncode`` and the command's last stdout
line as ``stdout_tail``, and ``cpu_s``, the CPU seconds (user + system, all threads) the command
used: on a loaded machine wall times stretch, CPU seconds much less.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def main() -> None:
    """Run the command after ``--`` and report its wall time and peak RSS as JSON."""
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise SystemExit("usage: launch.py -- CMD [ARG...]")
    launcher_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = out.read().decode("utf-8", "replace").strip().splitlines()
    print(json.dumps({
        "wall_s": round(wall, 4),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "launcher_rss_mb": round(launcher_kb / 1024, 1),
        "returncode": child.returncode,
        "stdout_tail": lines[-1] if lines else "",
    }))  # fmt: skip


if __name__ == "__main__":
    main()
