"""Fixtures for the browser tests: a real ``deepverify serve`` on loopback and headless Chromium.

The server runs as a subprocess with its own ``DEEPVERIFY_HOME`` under ``tmp_path``, the built web
UI and the tiny random-weight model, so the tests exercise the same process ``make run`` starts.
Everything is skipped when Debian's Chromium or the web build is missing, unless
``DEEPVERIFY_REQUIRE_SERVICES=1`` (CI), where that is a failure instead.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("DEEPVERIFY_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium stalls on a network with no way out.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "tests" / "e2e" / "artifacts"
SERVER_START_TIMEOUT_S = 120.0


def _required() -> bool:
    return os.environ.get("DEEPVERIFY_REQUIRE_SERVICES") == "1"


def _missing(reason: str) -> None:
    if _required():
        pytest.fail(f"{reason} (DEEPVERIFY_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def _web_dir() -> Path | None:
    """The built UI: what ``make install`` put in the package, else a fresh ``web/out``."""
    for candidate in (
        Path(os.environ["DEEPVERIFY_WEB_DIR"]) if os.environ.get("DEEPVERIFY_WEB_DIR") else None,
        REPO / "src" / "deepverify" / "service" / "static",
        REPO / "web" / "out",
    ):
        if candidate is not None and (candidate / "index.html").is_file():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    """A running ``deepverify serve``."""

    url: str
    home: Path
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.is_file() else ""
        return "\n".join(text.splitlines()[-lines:])


def _wait_ready(server: LiveServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"deepverify serve exited with {process.returncode}:\n{server.log_tail()}"
            )
        try:
            response = httpx.get(f"{server.url}/api/ready", timeout=2.0)
            if response.status_code == 200 and response.json().get("ready"):
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.25)
    raise RuntimeError(f"deepverify serve was not ready in time ({last}):\n{server.log_tail()}")


@pytest.fixture(scope="session")
def web_dir() -> Path:
    found = _web_dir()
    if found is None:
        _missing("the web UI is not built (make install, or npm ci && npm run build in web/)")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.is_file():
        _missing(f"{CHROMIUM} not found (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def live_server(
    web_dir: Path, tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """``deepverify serve`` on a free loopback port with a throwaway home and the tiny model."""
    home = tmp_path_factory.mktemp("deepverify_home")
    port = _free_port()
    server = LiveServer(url=f"http://127.0.0.1:{port}", home=home, log=home / "serve.log")
    env = {
        **os.environ,
        "DEEPVERIFY_HOME": str(home),
        "DEEPVERIFY_ENVIRONMENT": "test",
        "DEEPVERIFY_SECRET_KEY": secrets.token_urlsafe(48),
        "DEEPVERIFY_WEB_DIR": str(web_dir),
        "DEEPVERIFY_MODEL_PATH": str(tiny_checkpoint),
        "DEEPVERIFY_TORCH_THREADS": "1",
    }
    for name in ("DEEPVERIFY_DATABASE_URL", "DEEPVERIFY_BROKER_URL", "DEEPVERIFY_OIDC_ISSUER"):
        env.pop(name, None)
    command = [
        str(Path(sys.executable).with_name("deepverify")),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with server.log.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    try:
        _wait_ready(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright (no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
