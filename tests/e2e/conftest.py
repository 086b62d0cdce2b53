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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.required import missing

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
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
SERVER_START_TIMEOUT_S = 120.0
# The live server's upload limit: far above the clips the tests upload, small enough that a
# browser can build a file one byte over it in memory.
MAX_UPLOAD_BYTES = 5_000_000


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
        missing("the web UI is not built (make install, or npm ci && npm run build in web/)")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.is_file():
        missing(f"{CHROMIUM} not found (apt-get install chromium)")
    return CHROMIUM


@contextmanager
def serve(
    *, web_dir: Path, model: Path, home: Path, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """Run ``deepverify serve`` on a free loopback port until the block ends.

    Args:
        web_dir: The built web UI to serve at ``/``.
        model: The checkpoint to analyse with.
        home: The server's ``DEEPVERIFY_HOME`` (database, uploads, results, its log).
        env: Extra ``DEEPVERIFY_*`` settings (e.g. an OIDC issuer).
    """
    port = _free_port()
    server = LiveServer(url=f"http://127.0.0.1:{port}", home=home, log=home / "serve.log")
    full_env = {
        **os.environ,
        "DEEPVERIFY_HOME": str(home),
        "DEEPVERIFY_ENVIRONMENT": "test",
        "DEEPVERIFY_SECRET_KEY": secrets.token_urlsafe(48),
        "DEEPVERIFY_WEB_DIR": str(web_dir),
        "DEEPVERIFY_MODEL_PATH": str(model),
        "DEEPVERIFY_INFERENCE_THREADS": "1",
    }
    for name in list(full_env):
        if name.startswith(("DEEPVERIFY_OIDC_", "DEEPVERIFY_DATABASE_", "DEEPVERIFY_BROKER_")):
            del full_env[name]
    full_env.update(env or {})
    command = [
        str(Path(sys.executable).with_name("deepverify")),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with server.log.open("wb") as log:
        process = subprocess.Popen(
            command, env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=home
        )
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
def live_server(
    chromium_path: Path,  # skip before starting a server no browser will visit
    web_dir: Path,
    tiny_checkpoint: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """``deepverify serve`` on a free loopback port with a throwaway home and the tiny model."""
    home = tmp_path_factory.mktemp("deepverify_home")
    # 48 frames instead of the tiny card's 8: on an idle machine the tiny model analysed the clip
    # within one update of the page, and the journey could not see the stage bars move.
    env = {"DEEPVERIFY_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES), "DEEPVERIFY_NUM_FRAMES": "48"}
    with serve(web_dir=web_dir, model=tiny_checkpoint, home=home, env=env) as server:
        yield server


@contextmanager
def chromium(chromium_path: Path, *extra_args: str) -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (no downloaded browser), closed after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=[*CHROMIUM_ARGS, *extra_args]
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[object]:
    """Headless Debian Chromium, for a module's tests."""
    with chromium(chromium_path) as instance:
        yield instance


def axe_violations(page: Any) -> list[str]:
    """WCAG 2 A/AA problems axe-core finds on the page (contrast, names, landmarks...)."""
    if page.evaluate("() => typeof window.axe === 'undefined'"):
        # Evaluated over the DevTools protocol, which the page's CSP does not govern (an inline
        # <script> tag would be refused, as it should be).
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {
                runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
            });
            return result.violations.map(v =>
                `${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(' ')).join(', ')})`);
        }"""
    )
    return [str(item) for item in found]


@pytest.fixture(scope="session")
def axe() -> Path:
    """axe-core, the accessibility checker, from the web dependencies."""
    if not AXE.is_file():
        missing(f"{AXE} not found (npm ci in web/)")
    return AXE


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
