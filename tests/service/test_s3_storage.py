"""The S3 object store against a real S3 server (SeaweedFS, see ``tests/service/s3.py``).

What moto could not prove: wrong secrets are refused, each user sees only their own videos'
files, deletion empties the bucket, a failed transfer leaves no object or stray multipart
upload, and a store that goes away answers 503 while the job waits and then completes.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from deepverify.cli.app import app as cli_app
from deepverify.service.api import hygiene
from deepverify.service.core import storage
from deepverify.service.core.db import create_session_factory, database_from_settings
from deepverify.service.core.models import Video
from deepverify.service.core.objects import StorageUnavailableError, open_store
from deepverify.service.core.s3 import PART_BYTES, S3Store
from deepverify.service.main import create_app
from tests.service.conftest import (
    FAKE_IMAGE,
    IMAGES,
    PASSWORD,
    sign_up,
    upload,
    wait_for,
    wait_until,
)
from tests.service.s3 import SwitchableProxy, free_ports

pytestmark = pytest.mark.parametrize("database_url", [None])  # SQLite: the store is the point


def _files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


def test_wrong_secret_is_refused_at_start_up_and_in_readiness(
    s3, make_settings, monkeypatch, fake_analyzer
):
    s3.server.client().put_object(Bucket=s3.bucket, Key="probe", Body=b"x")
    with pytest.raises(ClientError) as refused:  # the server itself checks signatures
        s3.server.client(secret="not-the-secret").get_object(Bucket=s3.bucket, Key="probe")
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    settings = make_settings(**s3.overrides())
    with pytest.raises(StorageUnavailableError, match="refused our credentials"):
        S3Store(settings).check()
    app = create_app(settings, analyzer_factory=lambda: fake_analyzer)
    with TestClient(app) as client:
        ready = client.get("/api/ready")
    assert ready.status_code == 503
    assert ready.json()["storage"] is False and "refused our credentials" in ready.json()["detail"]
    assert "not-the-secret" not in ready.text
    result = CliRunner().invoke(
        cli_app,
        ["worker"],
        env={
            "DEEPVERIFY_HOME": str(settings.home),
            "DEEPVERIFY_BROKER_URL": "redis://127.0.0.1:1/0",
            "DEEPVERIFY_STORAGE": "s3",
            "DEEPVERIFY_S3_BUCKET": s3.bucket,
            "DEEPVERIFY_S3_ENDPOINT_URL": s3.endpoint,
            "DEEPVERIFY_S3_PATH_STYLE": "true",
            "DEEPVERIFY_S3_REGION": "us-east-1",
        },
    )
    assert result.exit_code == 1
    assert "refused our credentials" in result.output and "Traceback" not in result.output


def test_missing_bucket_and_unreachable_endpoint_are_named(s3, make_settings):
    missing = make_settings(**s3.overrides(s3_bucket="no-such-bucket"))
    with pytest.raises(StorageUnavailableError, match=r"'no-such-bucket'.*does not exist"):
        S3Store(missing).check()
    (port,) = free_ports(1)
    away = make_settings(**s3.overrides(s3_endpoint_url=f"http://127.0.0.1:{port}"))
    with pytest.raises(StorageUnavailableError, match=f"127.0.0.1:{port} cannot be used"):
        S3Store(away).check()


def test_s3_round_trip_isolation_and_deletion(s3, s3_settings, fake_analyzer, clip_bytes):
    app = create_app(s3_settings, analyzer_factory=lambda: fake_analyzer)
    with TestClient(app) as client:
        owner = sign_up(client, "alice@example.com")
        intruder = sign_up(client, "mallory@example.com")
        video_id = upload(client, owner, clip_bytes(0), name="holiday.mp4").json()["id"]
        video = wait_for(client, owner, video_id)
        assert video["status"] == "done", video["error"]
        storage_name = _storage_name(s3_settings, video_id)
        assert s3.objects() == sorted(
            [f"uploads/{storage_name}", f"results/{video_id}/report.html"]
            + [f"results/{video_id}/{image}" for image in IMAGES]
        )
        # Nothing per-video stays in the API's folder: the bucket is the only shared place.
        assert _files_under(storage.uploads_dir(s3_settings)) == []
        assert _files_under(storage.results_dir(s3_settings)) == []
        page = client.get(video["report_html_url"], headers=owner)
        assert page.status_code == 200 and "holiday.mp4" in page.text
        image = client.get(video["image_base_url"] + IMAGES[0], headers=owner)
        assert image.status_code == 200 and image.content == FAKE_IMAGE
        assert image.headers["content-type"] == "image/jpeg"
        base = f"/api/videos/{video_id}"
        for method, path in [
            ("GET", base),
            ("DELETE", base),
            ("GET", f"{base}/report.html"),
            *(("GET", f"{base}/images/{name}") for name in IMAGES),
            ("GET", f"{base}/events"),
        ]:
            response = client.request(method, path, headers=intruder)
            assert response.status_code == 404, (method, path)
            assert response.json() == {"detail": "video not found"}
        assert client.get(video["image_base_url"] + "report.html", headers=owner).status_code == 404

        assert client.delete(base, headers=owner).status_code == 200
        assert s3.objects() == []
        # Deleting an account deletes its videos' objects.
        kept = upload(client, intruder, clip_bytes(1)).json()["id"]
        gone = upload(client, owner, clip_bytes(2)).json()["id"]
        for headers, vid in ((intruder, kept), (owner, gone)):
            assert wait_for(client, headers, vid)["status"] == "done"
        response = client.request(
            "DELETE", "/api/auth/me", headers=owner, json={"password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        assert s3.objects() and all(gone not in key for key in s3.objects())
        assert any(f"results/{kept}/" in key for key in s3.objects())


def _storage_name(settings, video_id: str) -> str:
    engine = database_from_settings(settings)
    try:
        with create_session_factory(engine)() as session:
            name = session.scalar(select(Video.storage_name).where(Video.id == video_id))
    finally:
        engine.dispose()
    assert name is not None
    return name


def test_refused_or_cut_uploads_leave_no_object(s3, s3_settings, fake_analyzer, clip_bytes):
    app = create_app(s3_settings, analyzer_factory=lambda: fake_analyzer)
    with TestClient(app) as client:
        headers = sign_up(client, "cut@example.com")
        data = clip_bytes(0)
        boundary = "dvcut"
        cut = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="clip.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
        ).encode() + data[: len(data) // 2]
        response = client.post(
            "/api/videos",
            headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            content=cut,
        )
        assert response.status_code == 400 and "cut off" in response.json()["detail"]
        refused = upload(client, headers, b"not a video at all", name="x.mp4")
        assert refused.status_code == 415
    assert s3.objects() == [] and s3.server.multipart_uploads(s3.bucket) == []


def test_a_transfer_failing_midway_aborts_its_multipart_upload(s3, s3_settings, tmp_path):
    store = S3Store(s3_settings)
    source = tmp_path / "big.bin"
    with source.open("wb") as out:  # three parts
        out.truncate(2 * PART_BYTES + 1)
    parts: list[int] = []

    def fail_the_second_part(**_: object) -> None:
        parts.append(1)
        if len(parts) == 2:
            raise ConnectionClosedError(endpoint_url=s3.endpoint)  # as a cut connection does

    store.client.meta.events.register("before-call.s3.UploadPart", fail_the_second_part)
    with pytest.raises(StorageUnavailableError):
        store.store_upload(source, "big")
    assert parts, "the transfer did not go multipart"
    assert s3.objects() == [] and s3.server.multipart_uploads(s3.bucket) == []
    # Without the failure, the same file is stored in parts and arrives whole.
    store.client.meta.events.unregister("before-call.s3.UploadPart", fail_the_second_part)
    store.store_upload(source, "big")
    head = s3.server.client().head_object(Bucket=s3.bucket, Key="uploads/big")
    assert head["ContentLength"] == 2 * PART_BYTES + 1 and head["ETag"].endswith('-3"')


def test_store_down_answers_503_and_the_job_waits_for_it(
    s3, make_settings, fake_analyzer, clip_bytes
):
    proxy = SwitchableProxy(int(s3.endpoint.rsplit(":", 1)[1]))
    settings = make_settings(
        **s3.overrides(s3_endpoint_url=f"http://127.0.0.1:{proxy.port}"), job_lease_seconds=1.0
    )
    app = create_app(settings, analyzer_factory=lambda: fake_analyzer)
    try:
        with TestClient(app) as client:
            headers = sign_up(client, "down@example.com")
            proxy.set_up(False)
            refused = upload(client, headers, clip_bytes(0))
            assert refused.status_code == 503, refused.text
            assert refused.json()["detail"].startswith("storage unavailable: the object store at")
            assert refused.headers["retry-after"] == "30"
            ready = client.get("/api/ready")
            assert ready.status_code == 503 and ready.json()["storage"] is False

            proxy.set_up(True)
            fake_analyzer.gate.clear()  # hold the job after it fetched the upload
            video_id = upload(client, headers, clip_bytes(0)).json()["id"]
            assert wait_until(lambda: len(fake_analyzer.calls) == 1)
            proxy.set_up(False)  # ... so that publishing its results fails
            fake_analyzer.gate.set()
            assert wait_until(lambda: _row(settings, video_id).attempts == 0, timeout=60)
            assert _row(settings, video_id).status == "running"  # postponed, not failed
            proxy.set_up(True)
            video = wait_for(client, headers, video_id)
            assert video["status"] == "done", video["error"]
            assert len(fake_analyzer.calls) == 2 and _row(settings, video_id).attempts == 1
            assert client.get(video["report_html_url"], headers=headers).status_code == 200
    finally:
        proxy.close()


def _row(settings, video_id: str) -> Video:
    engine = database_from_settings(settings)
    try:
        with create_session_factory(engine)() as session:
            video = session.get(Video, video_id)
            assert video is not None
            session.expunge(video)
            return video
    finally:
        engine.dispose()


def test_local_store_is_the_default_and_keeps_its_layout(settings, tmp_path):
    store = open_store(settings)
    assert store.kind == "local" and open_store(settings) is store
    store.check()
    source = tmp_path / "incoming"
    source.write_bytes(b"video")
    store.store_upload(source, "abc")
    assert not source.exists() and storage.upload_path(settings, "abc").read_bytes() == b"video"
    work = storage.work_dir(settings, "v1", "w1")
    (work / "heatmaps").mkdir(parents=True)
    (work / "heatmaps" / "a.png").write_bytes(b"png")
    store.publish_results("v1", work)
    opened = store.open_result("v1", "heatmaps/a.png")
    assert opened.size == 3 and b"".join(opened.chunks) == b"png"
    assert [entry.key for entry in store.objects()] == ["results/v1/heatmaps/a.png", "uploads/abc"]
    store.delete_video(video_id="v1", storage_name="abc")
    assert store.objects() == []


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_objects_no_video_names_are_swept_once_old(
    backend, request, settings, fake_analyzer, clip_bytes, tmp_path, monkeypatch
):
    if backend == "s3":
        settings = request.getfixturevalue("s3_settings")
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        owner = sign_up(client, "keeper@example.com")
        video_id = upload(client, owner, clip_bytes(0)).json()["id"]
        assert wait_for(client, owner, video_id)["status"] == "done"
        factory = client.app.state.session_factory
    store = open_store(settings)
    kept = [entry.key for entry in store.objects()]
    assert f"uploads/{_storage_name(settings, video_id)}" in kept
    assert f"results/{video_id}/report.html" in kept
    # What a crash leaves: an upload stored before its row was committed, and results of a video
    # whose row is gone.
    orphan = tmp_path / "orphan.mp4"
    orphan.write_bytes(b"video")
    store.store_upload(orphan, "never-committed")
    ghost = storage.work_dir(settings, "ghost", "w1")
    (ghost / "heatmaps").mkdir(parents=True)
    (ghost / "heatmaps" / "a.png").write_bytes(b"png")
    store.publish_results("ghost", ghost)
    left = sorted([*kept, "uploads/never-committed", "results/ghost/heatmaps/a.png"])
    assert [entry.key for entry in store.objects()] == left

    assert hygiene.sweep_orphans(factory, settings) == 0  # young: maybe an upload being committed
    assert [entry.key for entry in store.objects()] == left
    later = time.time() + hygiene.ORPHAN_GRACE_S + 60
    assert hygiene.sweep_orphans(factory, settings, now=later) == 2
    assert [entry.key for entry in store.objects()] == kept

    # The service sweeps at start-up, beside serving, and again while it serves: a worker can
    # crash any time (its shutdown waits for a sweep in progress).
    crashed = tmp_path / "crashed.mp4"
    crashed.write_bytes(b"video")
    store.store_upload(crashed, "crashed")
    monkeypatch.setattr(hygiene, "ORPHAN_GRACE_S", 0.0)
    sweeping = settings.model_copy(update={"orphan_sweep_interval_seconds": 0.2})
    with TestClient(create_app(sweeping, analyzer_factory=lambda: fake_analyzer)):
        assert wait_until(lambda: [entry.key for entry in store.objects()] == kept, timeout=30)
        crashed.write_bytes(b"video")  # storing moved the first
        store.store_upload(crashed, "crashed-later")
        assert wait_until(lambda: [entry.key for entry in store.objects()] == kept, timeout=30)
    assert [entry.key for entry in store.objects()] == kept


def test_periodic_sweep_outlives_a_failed_sweep_and_stops_when_told(settings, monkeypatch):
    """A sweep that raises is logged and the next runs on time; setting the event ends the loop
    (no sweep after it)."""
    calls: list[int] = []

    def sweep(session_factory, settings) -> int:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("listing broke")
        return 0

    monkeypatch.setattr(hygiene, "sweep_orphans", sweep)
    fast = settings.model_copy(update={"orphan_sweep_interval_seconds": 0.05})

    async def run() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(hygiene.sweep_orphans_periodically(None, fast, stop))
        async with asyncio.timeout(5):
            while len(calls) < 3 and not task.done():
                await asyncio.sleep(0.01)
        assert not task.done(), task.exception()
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        return len(calls)

    stopped_at = asyncio.run(run())
    assert stopped_at >= 3
    time.sleep(0.2)
    assert len(calls) == stopped_at


def test_a_job_the_store_keeps_failing_gives_up_after_the_longest_wait(
    s3, make_settings, fake_analyzer, clip_bytes
):
    proxy = SwitchableProxy(int(s3.endpoint.rsplit(":", 1)[1]))
    settings = make_settings(
        **s3.overrides(s3_endpoint_url=f"http://127.0.0.1:{proxy.port}"),
        job_lease_seconds=1.0,
        max_storage_wait_seconds=0.5,
    )
    app = create_app(settings, analyzer_factory=lambda: fake_analyzer)
    try:
        with TestClient(app) as client:
            headers = sign_up(client, "gives-up@example.com")
            fake_analyzer.gate.clear()  # hold the job after it fetched the upload
            video_id = upload(client, headers, clip_bytes(0)).json()["id"]
            assert wait_until(lambda: len(fake_analyzer.calls) == 1)
            time.sleep(0.6)  # the upload is now older than the longest wait
            proxy.set_up(False)  # publishing the results fails
            fake_analyzer.gate.set()
            video = wait_for(client, headers, video_id)
            assert video["status"] == "failed"
            error = video["error"]
            assert re.match(r"the analysis gave up waiting for the object store, \d+ s ", error)
            assert "cannot be used" in error and error.endswith("; upload the video again")
            assert len(fake_analyzer.calls) == 1  # failed at once, not postponed and retried
    finally:
        proxy.close()
