"""Scale-out without containers: one API process and two Celery worker processes on loopback,
each with its own private home folder, sharing nothing but PostgreSQL, Redis and an S3 bucket
(SeaweedFS).

20 uploads from two users all complete with the right owners, through a restart of the object
store while their jobs run; a worker killed (``kill -9``)
mid-job leaves its job to the other; every object in the bucket belongs to a video in the
database, and deleting everything empties the bucket.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from deepverify.service.core.models import Video
from tests.processes import start_group, stop_group
from tests.service.conftest import PASSWORD, TEST_SECRET, sign_up, upload, wait_for, wait_until
from tests.service.test_celery import DEEPVERIFY, Workers, broker  # noqa: F401  (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
USERS = ("alice@example.com", "bob@example.com")
UPLOADS_PER_USER = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def api_process(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Holds the API process the test starts; stopped afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        stop_group(proc)


def _files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


def test_api_and_two_workers_share_only_database_broker_and_bucket(
    broker,  # noqa: F811  (the fixture imported above)
    postgres_url,
    s3,
    api_process,
    tmp_path,
    tiny_checkpoint,
    shared_data,
    clip_bytes,
):
    redis_url, queue = broker
    common = {
        "environment": "test",
        "secret_key": TEST_SECRET,
        "database_url": postgres_url,
        "broker_url": redis_url,
        "broker_queue": queue,
        "broker_visibility_timeout_seconds": "4",
        "job_lease_seconds": "2",
        "max_pending_jobs_per_user": str(UPLOADS_PER_USER + 5),
        # Registration counts live in the shared Redis, across runs: not this test's subject.
        "registrations_per_address": "100000",
        "model_path": str(tiny_checkpoint),
        "num_frames": "8",
        "torch_threads": "1",
        **{key: str(value) for key, value in s3.overrides().items()},
    }
    homes = {name: tmp_path / name for name in ("api", "worker0", "worker1")}

    def env(home: Path, **more: str) -> dict[str, str]:
        values = {**common, "home": str(home), **more}
        return {**os.environ, **{f"DEEPVERIFY_{k.upper()}": v for k, v in values.items()}}

    port = _free_port()
    api_env = env(homes["api"], host="127.0.0.1", port=str(port))
    api = start_group([str(DEEPVERIFY), "serve"], log=tmp_path / "api.log", env=api_env)
    api_process.append(api)
    workers = []
    for i in range(2):
        (tmp_path / f"logs{i}").mkdir()
        workers.append(Workers(env(homes[f"worker{i}"]), tmp_path / f"logs{i}"))
    procs = {proc.pid: (group, proc) for group in workers for proc in [group.start()]}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

            def ready() -> bool:
                try:
                    return "2 worker" in str(client.get("/api/ready").json())
                except httpx.HTTPError:
                    return False

            assert wait_until(ready, 180), (tmp_path / "api.log").read_text()[-2000:]
            assert client.get("/api/ready").json()["storage"] is True
            headers = {email: sign_up(client, email) for email in USERS}

            # 1. 20 uploads from two users at once: every one completes, owned by its uploader.
            def send(job: tuple[str, int]) -> tuple[str, str]:
                email, seed = job
                response = upload(client, headers[email], clip_bytes(seed), name=f"{seed}.mp4")
                assert response.status_code == 202, response.text
                return email, response.json()["id"]

            jobs = [(email, seed) for email in USERS for seed in range(UPLOADS_PER_USER)]
            with ThreadPoolExecutor(8) as pool:
                sent = list(pool.map(send, jobs))
            assert len({video_id for _, video_id in sent}) == len(jobs)
            s3.server.restart()  # while jobs run: theirs wait for the store, nothing is lost
            for email, video_id in sent:
                video = wait_for(client, headers[email], video_id, timeout=300)
                assert video["status"] == "done", video["error"]
                other = next(user for user in USERS if user != email)
                assert (
                    client.get(f"/api/videos/{video_id}", headers=headers[other]).status_code == 404
                )
            for email in USERS:
                listing = client.get("/api/videos", headers=headers[email]).json()
                assert listing["count"] == UPLOADS_PER_USER

            # 2. The worker running a job is killed; the other one completes it.
            long_clip = (shared_data / "real" / "liveportrait_d6.mp4").read_bytes()  # 33.6 s
            response = upload(client, headers[USERS[0]], long_clip, name="long.mp4")
            video_id = response.json()["id"]
            database = create_engine(postgres_url)
            try:

                def claimed_by() -> str | None:
                    with database.connect() as conn:
                        return conn.scalar(select(Video.claimed_by).where(Video.id == video_id))

                assert wait_until(lambda: claimed_by() is not None, 120)
                victim = int(str(claimed_by()).split("-")[1])  # "celery-<pid>-<token>"
                group, proc = procs[victim]
                group.kill(proc)
                video = wait_for(client, headers[USERS[0]], video_id, timeout=300)
                assert video["status"] == "done", video["error"]
                assert not str(claimed_by()).startswith(f"celery-{victim}-")

                # 3. Every object belongs to a video in the database; no folder is shared.
                with database.connect() as conn:
                    rows = conn.execute(select(Video.id, Video.storage_name)).all()
                assert len(rows) == len(jobs) + 1
                known = {f"uploads/{name}" for _, name in rows}
                ids = {str(vid) for vid, _ in rows}
                for key in s3.objects():
                    assert key in known or key.split("/")[1] in ids, key
                assert {f"uploads/{name}" for _, name in rows} <= set(s3.objects())
            finally:
                database.dispose()
            survivor = next(i for i, group in enumerate(workers) if proc not in group.procs)
            for home in (homes["api"], homes[f"worker{survivor}"]):
                stray = [p for p in _files(home) if p.parent.name in ("uploads", "results")]
                assert stray == [] and _files(home / "results") == [], home

            # 4. Deleting both accounts deletes every object.
            for email in USERS:
                response = client.request(
                    "DELETE", "/api/auth/me", headers=headers[email], json={"password": PASSWORD}
                )
                assert response.status_code == 200, response.text
            assert s3.objects() == []
    finally:
        for group in workers:
            group.stop_all()
