"""The videos API with a fake analyzer: uploads, listing, isolation, deletion, media access, SSE."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest

from deepverify.service.core import storage
from deepverify.service.core.models import PENDING_STATUSES
from deepverify.stages import STAGES
from tests.service.conftest import IMAGES, sign_up, upload, wait_for


def _events(client, url, on_event=None, **kwargs) -> list[tuple[str, dict]]:
    """The events of an SSE stream, read as they arrive (``on_event`` sees each one then)."""
    events: list[tuple[str, dict]] = []
    fields: dict[str, str] = {}
    with client.stream("GET", url, **kwargs) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if ": " in line:
                name, value = line.split(": ", 1)
                fields[name] = value
            elif not line and fields:  # a blank line ends an event
                if "event" in fields:
                    events.append((fields["event"], json.loads(fields["data"])))
                    if on_event is not None:
                        on_event(*events[-1])
                fields = {}
    return events


@pytest.mark.postgres
def test_upload_runs_the_job_and_reports(client, settings, clip_bytes):
    headers = sign_up(client, "owner@example.com")
    data = clip_bytes(0)
    accepted = upload(client, headers, data, name="holiday.mp4")
    assert accepted.status_code == 202
    assert accepted.json()["status"] == "queued" and accepted.json()["duplicate"] is False
    video = wait_for(client, headers, accepted.json()["id"])
    assert video["status"] == "done" and video["error"] is None
    assert video["verdict"] == "REAL" and video["report"]["verdict"] == "REAL"
    assert video["filename"] == "holiday.mp4" and video["size_bytes"] == len(data)
    assert video["sha256"] == hashlib.sha256(data).hexdigest()
    assert video["media"]["codec"] == "h264" and video["media"]["frame_count"] >= 2
    assert video["progress"] == dict.fromkeys(STAGES, 1.0)
    assert list(video["progress"]) == list(STAGES)  # in the order the stages run
    # Stored under a generated name, not the client's.
    stored = [p.name for p in storage.uploads_dir(settings).iterdir() if p.is_file()]
    assert len(stored) == 1 and "holiday" not in stored[0]
    page = client.get(video["report_html_url"], headers=headers)
    assert page.status_code == 200 and "holiday.mp4" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    # Every image the report names is served: heatmap and plain crop, frame with and without
    # the overlay; nothing else in the result folder is.
    frame = video["report"]["frames"][0]
    face = frame["faces"][0]
    named = [face["heatmap"], face["crop"], frame["overlay"], frame["image"]]
    assert sorted(named) == sorted(IMAGES)
    for path in named:
        image = client.get(video["image_base_url"] + path, headers=headers)
        assert image.status_code == 200, path
        assert image.headers["content-type"] == "image/jpeg"
    for path in ("report.json", "../../deepverify.db", "heatmaps/../report.html", "crops"):
        assert client.get(video["image_base_url"] + path, headers=headers).status_code == 404


def test_listing_is_newest_first_and_paginated(client, clip_bytes):
    headers = sign_up(client, "lister@example.com")
    ids = [upload(client, headers, clip_bytes(i), name=f"v{i}.mp4").json()["id"] for i in range(3)]
    page = client.get("/api/videos", headers=headers, params={"limit": 2}).json()
    assert page["count"] == 3 and [v["id"] for v in page["data"]] == ids[::-1][:2]
    rest = client.get("/api/videos", headers=headers, params={"skip": 2, "limit": 2}).json()
    assert [v["id"] for v in rest["data"]] == ids[:1]
    assert client.get("/api/videos", headers=headers, params={"limit": 1000}).status_code == 422


def test_duplicate_upload_reuses_the_earlier_result(client, fake_analyzer, clip_bytes):
    headers = sign_up(client, "dup@example.com")
    first = upload(client, headers, clip_bytes(0)).json()
    wait_for(client, headers, first["id"])
    again = upload(client, headers, clip_bytes(0), name="renamed.mov").json()
    assert again == {"id": first["id"], "status": "done", "duplicate": True}
    assert len(fake_analyzer.calls) == 1
    # Another user uploading the same bytes gets their own video.
    other = sign_up(client, "other@example.com")
    theirs = upload(client, other, clip_bytes(0)).json()
    assert theirs["id"] != first["id"] and theirs["duplicate"] is False


def test_failed_job_has_a_reason_and_can_be_retried(client, fake_analyzer, clip_bytes):
    headers = sign_up(client, "fail@example.com")
    fake_analyzer.fail = "the video track has no frames"
    first = upload(client, headers, clip_bytes(0)).json()
    video = wait_for(client, headers, first["id"])
    assert video["status"] == "failed" and video["error"] == "the video track has no frames"
    assert video["report"] is None and video["report_html_url"] is None
    assert client.get(f"/api/videos/{first['id']}/report.html", headers=headers).status_code == 404
    fake_analyzer.fail = None
    retry = upload(client, headers, clip_bytes(0)).json()
    assert retry["id"] != first["id"] and wait_for(client, headers, retry["id"])["status"] == "done"


def test_other_users_videos_do_not_exist_for_them(client, settings, clip_bytes):
    owner = sign_up(client, "alice@example.com")
    intruder = sign_up(client, "mallory@example.com")
    video_id = upload(client, owner, clip_bytes(0)).json()["id"]
    wait_for(client, owner, video_id)
    base = f"/api/videos/{video_id}"
    for method, path in [
        ("GET", base),
        ("DELETE", base),
        ("GET", f"{base}/report.html"),
        ("GET", f"{base}/images/heatmaps/track0_000.png"),
        ("GET", f"{base}/events"),
    ]:
        response = client.request(method, path, headers=intruder)
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "video not found"}
    assert client.get("/api/videos", headers=intruder).json()["count"] == 0
    assert client.get(base, headers=owner).json()["status"] == "done"


def test_delete_removes_row_and_files(client, settings, clip_bytes):
    headers = sign_up(client, "deleter@example.com")
    video_id = upload(client, headers, clip_bytes(0)).json()["id"]
    wait_for(client, headers, video_id)
    assert any(storage.uploads_dir(settings).iterdir()) and any(
        storage.results_dir(settings).iterdir()
    )
    assert client.delete(f"/api/videos/{video_id}", headers=headers).status_code == 200
    assert client.get(f"/api/videos/{video_id}", headers=headers).status_code == 404
    assert [p for p in storage.uploads_dir(settings).rglob("*") if p.is_file()] == []
    assert list(storage.results_dir(settings).iterdir()) == []


@pytest.mark.parametrize("database_url", [None])
def test_media_is_read_with_the_bearer_header_only(client, clip_bytes):
    headers = sign_up(client, "media@example.com")
    video_id = upload(client, headers, clip_bytes(0)).json()["id"]
    video = wait_for(client, headers, video_id)
    image = video["image_base_url"] + IMAGES[0]
    events = f"/api/videos/{video_id}/events"
    for url in (video["report_html_url"], image):
        assert client.get(url, headers=headers).status_code == 200, url
    assert _events(client, events, headers=headers)[-1][0] == "done"
    # A token in the query string is no way in, not even the owner's valid access token.
    query = {"token": headers["Authorization"].removeprefix("Bearer ")}
    for url in (video["report_html_url"], image, events):
        assert client.get(url, params=query).status_code == 401, url
    schema = client.get("/api/openapi.json").json()
    assert not any("token" in path for path in schema["paths"])


def test_events_stream_progress_until_done(client, fake_analyzer, clip_bytes):
    headers = sign_up(client, "sse@example.com")
    # The analyzer stays halfway through each stage until the stream has shown that stage.
    shown = {stage: threading.Event() for stage in STAGES}
    fake_analyzer.mid_stage = lambda stage: shown[stage].wait(30)

    def on_event(name: str, data: dict) -> None:
        if data.get("stage") in shown:
            shown[data["stage"]].set()

    video_id = upload(client, headers, clip_bytes(0)).json()["id"]
    events = _events(client, f"/api/videos/{video_id}/events", on_event, headers=headers)
    assert all(event.is_set() for event in shown.values())
    names = [name for name, _ in events]
    assert names[-1] == "done" and names.count("done") == 1
    assert set(names[:-1]) == {"progress"} and len(names) >= 3
    statuses = [data["status"] for name, data in events if name == "progress"]
    assert statuses[-1] == "done" and "running" in statuses
    stages = [data["stage"] for name, data in events if data.get("stage")]
    runs = [stage for i, stage in enumerate(stages) if i == 0 or stage != stages[i - 1]]
    assert runs == list(STAGES)  # every stage shown, in order, never going back
    assert all(list(data["progress"]) == list(STAGES) for _, data in events)
    done = events[-1][1]
    assert done["id"] == video_id and done["report"]["verdict"] == "REAL"


def test_progress_lists_every_stage_at_zero_from_upload_on(client, fake_analyzer, clip_bytes):
    headers = sign_up(client, "stages@example.com")
    fake_analyzer.gate.clear()  # the job is queued or claimed, but no stage has started
    try:
        video_id = upload(client, headers, clip_bytes(0)).json()["id"]
        video = client.get(f"/api/videos/{video_id}", headers=headers).json()
        assert video["status"] in PENDING_STATUSES and video["stage"] is None
        assert list(video["progress"].items()) == [(stage, 0.0) for stage in STAGES]
    finally:
        fake_analyzer.gate.set()
    done = wait_for(client, headers, video_id)
    assert list(done["progress"].items()) == [(stage, 1.0) for stage in STAGES]


@pytest.mark.parametrize("database_url", [None])
def test_health_ready_and_openapi(client):
    assert client.get("/api/health").json() == {"status": "ok"}
    ready = client.get("/api/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True, "database": True, "storage": True, "worker": True, "model": True,
        "mode": "in-process", "detail": None,
    }  # fmt: skip
    schema = client.get("/api/openapi.json").json()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in operations]
    assert sorted(ids) == sorted(
        ["auth_register", "auth_login", "auth_me", "auth_config", "auth_logout",
         "auth_change_password", "auth_delete_me", "videos_upload", "videos_list",
         "videos_get", "videos_delete", "videos_report_html", "videos_image",
         "videos_events", "health", "ready", "live_start", "live_get", "live_stop",
         "live_events"]
    )  # fmt: skip
    assert all({"200", "201", "202", "204"} & set(op.get("responses", {}))
               for op in operations)  # fmt: skip
    upload_body = schema["paths"]["/api/videos"]["post"]["requestBody"]["content"]
    assert "file" in upload_body["multipart/form-data"]["schema"]["properties"]
    assert {"UserCreate", "UserPublic", "VideoPublic", "VideosPublic"} <= set(
        schema["components"]["schemas"]
    )
