"""Fixtures of the service tests: databases (SQLite and PostgreSQL), settings, API clients.

Every test that takes ``database_url`` runs on SQLite; those marked ``postgres`` (jobs, claims,
races, locking: what the database decides) also run on PostgreSQL when
``DEEPVERIFY_TEST_POSTGRES_URL`` is set, each in a fresh database on that server. Databases start
migrated (copied from a template migrated once per session) unless the test is marked
``empty_database``. Celery tests need ``DEEPVERIFY_TEST_REDIS_URL``. Without a server those tests
skip, unless ``DEEPVERIFY_REQUIRE_SERVICES=1`` (CI), where they fail.

Passwords are hashed with argon2id at minimal cost here (production's cost is checked in
``test_security``).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from deepverify.errors import DeepverifyError
from deepverify.report.output import IMAGE_SUFFIX
from deepverify.report.schema import FaceObservation, FrameResult, ModelInfo, Report, VideoMeta
from deepverify.service.core.db import create_db_engine, upgrade_database
from deepverify.service.core.models import FINISHED_STATUSES
from deepverify.service.core.security import use_password_hasher
from deepverify.service.core.settings import Settings
from deepverify.service.main import create_app
from deepverify.stages import STAGES
from tests.required import missing
from tests.service.s3 import s3, s3_settings, seaweed  # noqa: F401  (S3 fixtures)
from tests.videos import make_video

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
PASSWORD = "correct horse battery"
# What FakeAnalyzer writes: face heatmap, plain face crop, frame overlay, plain frame (JPEG, as
# the pipeline writes them).
IMAGES = tuple(
    f"{stem}{IMAGE_SUFFIX}"
    for stem in ("heatmaps/track0_000", "crops/track0_000", "frames/frame_000", "frames/plain_000")
)
FAKE_IMAGE = b"\xff\xd8\xff fake"  # a JPEG's first bytes
# argon2id at its minimum cost: production's (3 passes over 64 MiB) takes 0.3-2 s per sign-up.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def need_service(env: str) -> str:
    """The URL in ``env``; skip (or fail under DEEPVERIFY_REQUIRE_SERVICES=1) when unset."""
    url = os.environ.get(env)
    if url:
        return url
    missing(f"{env} is not set")


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Every service test hashes passwords with :data:`CHEAP_HASHER`."""
    use_password_hasher(CHEAP_HASHER)
    yield
    use_password_hasher(None)


def _parametrized_names(metafunc: pytest.Metafunc) -> set[str]:
    names: set[str] = set()
    for marker in metafunc.definition.iter_markers("parametrize"):
        argnames = marker.args[0] if marker.args else marker.kwargs["argnames"]
        if isinstance(argnames, str):
            argnames = argnames.split(",")
        names.update(name.strip() for name in argnames)
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run ``database_url`` tests on SQLite, and those marked ``postgres`` on PostgreSQL too."""
    if "database_url" not in metafunc.fixturenames:
        return
    if "database_url" in _parametrized_names(metafunc):  # the test chose its database itself
        return
    backends = ["sqlite"]
    if metafunc.definition.get_closest_marker("postgres") is not None:
        backends.append("postgres")
    metafunc.parametrize("database_url", backends, indirect=True)


def _admin_conninfo() -> tuple[Any, str]:
    """The server URL from the environment, and its psycopg connection string."""
    from sqlalchemy.engine import make_url

    admin = make_url(need_service("DEEPVERIFY_TEST_POSTGRES_URL"))
    return admin, admin.set(drivername="postgresql").render_as_string(hide_password=False)


def _migrate(url: str) -> None:
    engine = create_db_engine(url)
    try:
        upgrade_database(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """The name of a PostgreSQL database migrated to head once per session, copied by tests."""
    import psycopg

    admin, conninfo = _admin_conninfo()
    name = f"dv_template_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        _migrate(admin.set(database=name).render_as_string(hide_password=False))
        yield name
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session, copied by tests."""
    path = tmp_path_factory.mktemp("sqlite_template") / "deepverify.db"
    _migrate(f"sqlite:///{path}")
    return path


def _wants_empty_database(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("empty_database") is not None


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database for one test (migrated unless marked ``empty_database``),
    dropped afterwards."""
    import psycopg

    admin, conninfo = _admin_conninfo()
    template = (
        "" if _wants_empty_database(request) else request.getfixturevalue("postgres_template")
    )
    name = f"dv_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None (SQLite under the test's home, migrated unless marked ``empty_database``) or a fresh
    PostgreSQL database."""
    if getattr(request, "param", "sqlite") == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    if not _wants_empty_database(request):
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        shutil.copyfile(request.getfixturevalue("sqlite_template"), home / "deepverify.db")
    return None


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str | None) -> Callable[..., Settings]:
    """Settings for a test: a temporary home, fast polling, the parametrised database."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "secret_key": TEST_SECRET,
            "home": tmp_path / "home",
            "database_url": database_url,
            "poll_interval_seconds": 0.05,
            "job_lease_seconds": 5.0,
            "web_dir": tmp_path / "web",
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


class FakeAnalyzer:
    """Stands in for the pipeline in tests of the job machinery: fast, scriptable, no model.

    Reports every stage, writes a report page and the images of one face (heatmap and plain
    crop, frame with and without overlay, named as the pipeline names them) and returns a report
    shaped like the real one. ``fail`` makes it raise a user error; ``crash`` an unexpected one;
    ``gate``, while cleared, holds it before its first stage; ``mid_stage``, when set, is called
    halfway through each stage with the stage's name (a test can hold the analyzer there until it
    has seen that stage); ``calls`` records the videos it analysed.
    """

    def __init__(self) -> None:
        self.fail: str | None = None
        self.crash = False
        self.mid_stage: Callable[[str], None] | None = None
        self.gate = threading.Event()
        self.gate.set()
        self.calls: list[Path] = []

    def __call__(
        self,
        video_path: Path,
        *,
        out_dir: Path,
        progress: Any,
        display_name: str | None = None,
        check: Any = None,
    ) -> Report:
        self.calls.append(video_path)
        waiting_since = time.monotonic()
        while not self.gate.wait(timeout=0.05):  # checking as the pipeline does while it decodes
            if check is not None:
                check()
            if time.monotonic() - waiting_since > 60:
                raise RuntimeError("the test never opened the gate")
        for stage in STAGES:
            progress(stage, 0.5)
            if self.mid_stage is not None:
                self.mid_stage(stage)
            progress(stage, 1.0)
        if self.fail:
            raise DeepverifyError(self.fail)
        if self.crash:
            raise RuntimeError("boom")
        (out_dir / "report.html").write_text(f"<html><p>{display_name}</p></html>")
        report = Report(
            verdict="REAL",
            probability=0.25,
            threshold=0.5,
            explanation="fake analysis",
            video=VideoMeta(
                filename=display_name or video_path.name, sha256="0" * 64, container="mp4",
                codec="h264", width=64, height=48, rotation=0, duration_s=0.5, fps=10.0,
                frame_count=5,
            ),
            model=ModelInfo(
                model_id="fake", backbone="fake", input_size=64, trained=False, threshold=0.5,
                temperature=1.0,
            ),
            tracks=[],
            frames=[
                FrameResult(
                    position=0, index=0, timestamp=0.0, overlay=IMAGES[2], image=IMAGES[3],
                    faces=[
                        FaceObservation(
                            track_id=0, box=(0, 0, 10, 10), detection_score=0.9,
                            fake_probability=0.25, heatmap=IMAGES[0], crop=IMAGES[1],
                        )
                    ],
                )
            ],
            timings={},
            warnings=[],
            created_at=datetime.now(UTC),
            report_html="report.html",
        )  # fmt: skip
        for rel in report.image_paths():
            (out_dir / rel).parent.mkdir(exist_ok=True)
            (out_dir / rel).write_bytes(FAKE_IMAGE)
        return report


@pytest.fixture
def fake_analyzer() -> FakeAnalyzer:
    return FakeAnalyzer()


@pytest.fixture
def live_server(
    make_settings: Callable[..., Settings], fake_analyzer: FakeAnalyzer
) -> Iterator[Callable[..., int]]:
    """Start a real server on 127.0.0.1 (as ``deepverify serve`` does); ``start(**settings)``
    returns its port. Stopped after the test."""
    import uvicorn

    from deepverify.service.server import server_config

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**overrides: Any) -> int:
        settings = make_settings(**overrides)
        app = create_app(settings, analyzer_factory=lambda: fake_analyzer)
        server = uvicorn.Server(server_config(app, settings, port=0, log_level="error"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        port: int = server.servers[0].sockets[0].getsockname()[1]
        return port

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def client(settings: Settings, fake_analyzer: FakeAnalyzer) -> Iterator[TestClient]:
    """An API client on an app whose in-process worker runs :class:`FakeAnalyzer`."""
    app = create_app(settings, analyzer_factory=lambda: fake_analyzer)
    with TestClient(app) as test_client:
        yield test_client


def sign_up(client: TestClient, email: str) -> dict[str, str]:
    """Register ``email`` and return its Authorization header."""
    response = client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    response = client.post("/api/auth/login", data={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def upload(
    client: TestClient,
    headers: dict[str, str],
    data: bytes,
    name: str = "clip.mp4",
    content_type: str = "video/mp4",
) -> Any:
    """POST a file to /api/videos and return the response."""
    return client.post("/api/videos", headers=headers, files={"file": (name, data, content_type)})


def wait_until(
    condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.02
) -> bool:
    """Poll ``condition`` every ``interval`` s until it holds (True) or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def wait_for(
    client: TestClient, headers: dict[str, str], video_id: str, timeout: float = 60.0
) -> dict[str, Any]:
    """Poll a video until its job is done or failed; return its JSON."""
    body: dict[str, Any] = {}

    def finished() -> bool:
        body.update(client.get(f"/api/videos/{video_id}", headers=headers).json())
        return body["status"] in FINISHED_STATUSES

    if not wait_until(finished, timeout, interval=0.05):
        raise AssertionError(f"video {video_id} still {body['status']} after {timeout} s")
    return body


@pytest.fixture(scope="session")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], bytes]:
    """Small valid H.264 MP4s; ``clip_bytes(n)`` differs in content for each ``n``."""
    folder = tmp_path_factory.mktemp("clips")
    cache: dict[int, bytes] = {}

    def build(seed: int = 0) -> bytes:
        if seed not in cache:
            path = make_video(folder / f"clip{seed}.mp4", width=64 + 16 * seed, seconds=0.5)
            cache[seed] = path.read_bytes()
        return cache[seed]

    return build
