"""Container health check for the deepverify image: ``python healthcheck.py [serve|worker]``.

``serve`` (the default): the API answers ``/api/health`` on ``DEEPVERIFY_PORT``. ``worker``: a
worker process of this container (its host name) has loaded its model and keeps its readiness
record alive in the broker, the record ``/api/ready`` counts. Without an argument the mode is read
from the container's first process (``tini -- deepverify worker``). Exit status 0 is healthy; 1
prints the reason on one line.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.request
from pathlib import Path


def _mode() -> str:
    if len(sys.argv) > 1:
        return sys.argv[1]
    args = Path("/proc/1/cmdline").read_bytes().split(b"\0")
    return "worker" if b"worker" in args else "serve"


def check_serve() -> None:
    """Raise unless ``/api/health`` answers 200."""
    port = os.environ.get("DEEPVERIFY_PORT", "8000")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as response:
        if response.status != 200:
            raise RuntimeError(f"/api/health answered {response.status}")


def check_worker() -> None:
    """Raise unless a worker process of this host has a live readiness record."""
    from deepverify.service.core.settings import load_settings
    from deepverify.service.jobs.readiness import broker_client, live_workers

    settings = load_settings()
    host = socket.gethostname()
    workers = live_workers(broker_client(settings), settings.broker_queue)
    if not any(w.worker.startswith(f"{host}-") for w in workers):
        raise RuntimeError(f"no worker of {host} has reported its model loaded")


def main() -> int:
    """Run the check for this container's mode; 0 when healthy."""
    mode = _mode()
    checks = {"serve": check_serve, "worker": check_worker}
    if mode not in checks:
        sys.stderr.write(f"unknown mode {mode!r}: use serve or worker\n")
        return 1
    try:
        checks[mode]()
    except Exception as exc:  # any failure is "unhealthy", said in one line
        sys.stderr.write(f"unhealthy ({mode}): {type(exc).__name__}: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
