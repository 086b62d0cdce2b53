"""Issue 23, attack 5 and the sign-in findings: one user must not hold the worker or lock others.

The pending-jobs limit holds under concurrent uploads, sign-up is throttled per address, the
worker takes owners in turn, a stranger cannot lock an account, and ``X-Forwarded-For`` does not
change whose attempts are counted unless the peer is a configured proxy.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from deepverify.service.core import storage
from deepverify.service.core.db import (
    create_session_factory,
    database_from_settings,
    upgrade_database,
)
from deepverify.service.core.models import JobStatus, User, Video, utcnow
from deepverify.service.core.uploads import ReceivedFile, TooManyPendingError
from deepverify.service.jobs.queue import claim_next
from deepverify.service.services import videos as videos_service
from tests.service.conftest import PASSWORD


@pytest.fixture
def factory(settings):
    engine = database_from_settings(settings)
    upgrade_database(engine)
    storage.ensure_dirs(settings)
    yield create_session_factory(engine)
    engine.dispose()


def _user(factory, email: str) -> User:
    with factory() as session:
        user = User(email=email, hashed_password="x")
        session.add(user)
        session.commit()
        return user


@pytest.mark.postgres
def test_concurrent_uploads_cannot_pass_the_pending_limit_together(
    factory, settings, monkeypatch, tmp_path
):
    owner = _user(factory, "racer@example.com")

    def slow_probe(path: Path, **_: Any) -> dict[str, Any]:
        time.sleep(0.3)  # every upload passes the early check before any is recorded
        return {"frame_count": 5}

    monkeypatch.setattr(videos_service, "probe_upload", slow_probe)

    def upload(n: int) -> str:
        path = tmp_path / f"{n}.part"
        path.write_bytes(b"%d" % n)
        received = ReceivedFile(path, f"{n}.mp4", "video/mp4", 1, f"{n:064d}")
        try:
            videos_service._record(
                session_factory=factory, settings=settings, owner=owner, received=received,
                enqueue=lambda _: None,
            )  # fmt: skip
        except TooManyPendingError:
            return "refused"
        return "accepted"

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(upload, range(16)))
    assert outcomes.count("accepted") == settings.max_pending_jobs_per_user == 10
    assert len(list(storage.uploads_dir(settings).glob("*"))) == 10 + 1  # + incoming/


@pytest.mark.postgres
def test_the_worker_takes_owners_in_turn(factory, settings):
    heavy, light = _user(factory, "heavy@example.com"), _user(factory, "light@example.com")
    start = utcnow()
    with factory() as session:
        for n, owner in enumerate([heavy, heavy, heavy, light]):
            session.add(
                Video(
                    owner_id=owner.id, filename="v.mp4", size_bytes=1, sha256=f"{n:064d}",
                    storage_name=f"s{n}", created_at=start + timedelta(seconds=n),
                )
            )  # fmt: skip
        session.commit()

    def next_owner() -> str:
        video_id = claim_next(factory, worker_id="w", settings=settings)
        with factory() as session:
            video = session.get(Video, video_id)
            assert video is not None
            video.status = JobStatus.DONE.value  # one worker: done before the next claim
            session.commit()
            return "heavy" if video.owner_id == heavy.id else "light"

    assert [next_owner() for _ in range(4)] == ["heavy", "light", "heavy", "heavy"]


@pytest.mark.parametrize("database_url", [None])
def test_sign_up_is_throttled_per_address(make_settings, fake_analyzer):
    from deepverify.service.main import create_app

    settings = make_settings(registrations_per_address=3)
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        codes = [
            client.post(
                "/api/auth/register", json={"email": f"bot{n}@example.com", "password": PASSWORD}
            ).status_code
            for n in range(5)
        ]
    assert codes == [201, 201, 201, 429, 429]


@pytest.mark.parametrize("database_url", [None])
def test_a_stranger_cannot_lock_the_owner_out(live_server):
    port = live_server()
    owner = httpx.Client(base_url=f"http://127.0.0.1:{port}")
    stranger = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        transport=httpx.HTTPTransport(local_address="127.0.0.2"),
    )
    email = "owner@example.com"
    assert owner.post("/api/auth/register", json={"email": email, "password": PASSWORD}).is_success
    wrong = {"username": email, "password": "not the password"}
    codes = [stranger.post("/api/auth/login", data=wrong).status_code for _ in range(7)]
    assert codes[-1] == 429  # the stranger is throttled ...
    right = {"username": email, "password": PASSWORD}
    assert owner.post("/api/auth/login", data=right).status_code == 200  # ... the owner is not


@pytest.mark.parametrize("database_url", [None])
@pytest.mark.parametrize("trusted", [[], ["127.0.0.1"]])
def test_x_forwarded_for_counts_only_from_a_trusted_proxy(live_server, trusted):
    port = live_server(login_max_failures_per_address=3, trusted_proxies=trusted)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}")
    codes = [
        client.post(
            "/api/auth/login",
            data={"username": f"u{n}@example.com", "password": "wrong password"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        ).status_code
        for n in range(5)
    ]
    if trusted:  # each forwarded address is its own client
        assert codes == [401] * 5
    else:  # one client, whatever it claims
        assert codes == [401, 401, 401, 429, 429]
