"""The live-session API: guards answer clearly, updates arrive by SSE, the owner stops it."""

from __future__ import annotations

import json
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from deepverify.live.updates import LiveUpdate
from deepverify.service.core.settings import Settings
from deepverify.service.main import create_app
from deepverify.service.services.live import LiveSessions, limits_from
from deepverify.video.frames import sample_frames
from tests.live.conftest import Sender, free_port
from tests.live.sender import short_gop_copy
from tests.live.test_updates import data_url_image
from tests.service.conftest import FakeAnalyzer, sign_up, wait_until


def _update(seq: int) -> LiveUpdate:
    return LiveUpdate(
        seq=seq, elapsed_s=float(seq), stream_time_s=float(seq), verdict="REAL",
        probability=0.1, reasons=(), tracks=(), frame_indices=(seq,), frame_lags_s=(0.2,),
        fps=4.0, frames_sampled=seq, frames_dropped=0, reconnects=0,
    )  # fmt: skip


def _runner(url: str, max_seconds: float, stop: threading.Event) -> Iterator[LiveUpdate]:
    seq = 0
    while not stop.wait(0.05):
        seq += 1
        yield _update(seq)


def _fake_sessions(client: TestClient) -> LiveSessions:
    """Swap the app's sessions for ones judging with :func:`_runner` (no model, no network)."""
    app = client.app
    limits = limits_from(app.state.settings)  # type: ignore[attr-defined]
    sessions = LiveSessions(limits, _runner)
    app.state.live = sessions  # type: ignore[attr-defined]
    return sessions


PUBLIC_LITERAL = "rtsp://93.184.216.34/stream"  # a public address: no name to resolve


def test_guards_answer_with_one_clear_reason(client: TestClient) -> None:
    _fake_sessions(client)
    assert client.post("/api/live", json={"url": PUBLIC_LITERAL}).status_code == 401
    ann = sign_up(client, "ann@example.org")
    refused = client.post("/api/live", json={"url": "http://127.0.0.1:8000/admin"}, headers=ann)
    assert refused.status_code == 400
    assert "private, loopback or link-local" in refused.json()["detail"]
    ftp = client.post("/api/live", json={"url": "file:///etc/passwd"}, headers=ann)
    assert ftp.status_code == 400
    assert ftp.json()["detail"].startswith("unsupported protocol 'file'")
    first = client.post("/api/live", json={"url": PUBLIC_LITERAL}, headers=ann)
    assert first.status_code == 201, first.text
    again = client.post("/api/live", json={"url": PUBLIC_LITERAL}, headers=ann)
    assert again.status_code == 429
    assert "already run 1 live session" in again.json()["detail"]
    bob = sign_up(client, "bob@example.org")
    session_id = first.json()["id"]
    assert client.get(f"/api/live/{session_id}", headers=bob).status_code == 404
    assert client.delete(f"/api/live/{session_id}", headers=bob).status_code == 404
    assert client.delete(f"/api/live/{session_id}", headers=ann).status_code == 204


def test_updates_stream_by_sse_until_the_owner_stops(client: TestClient) -> None:
    _fake_sessions(client)
    ann = sign_up(client, "ann@example.org")
    session_id = client.post("/api/live", json={"url": PUBLIC_LITERAL}, headers=ann).json()["id"]
    events: list[tuple[str, dict[str, object]]] = []
    with client.stream("GET", f"/api/live/{session_id}/events", headers=ann) as response:
        assert response.status_code == 200
        event = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((event, json.loads(line.split(":", 1)[1])))
                if len(events) == 3:
                    assert client.delete(f"/api/live/{session_id}", headers=ann).status_code == 204
                if event == "end":
                    break
    updates = [data for kind, data in events if kind == "update"]
    assert [u["seq"] for u in updates] == list(range(1, len(updates) + 1))
    assert len(updates) >= 3 and updates[0]["verdict"] == "REAL"
    kind, end = events[-1]
    assert kind == "end" and end["done"] is True and end["error"] is None
    assert end["source"] == PUBLIC_LITERAL
    # A reconnecting client resumes after the last update it saw.
    with client.stream(
        "GET", f"/api/live/{session_id}/events", params={"after": 2}, headers=ann
    ) as response:
        text = response.read().decode()
    assert '"seq": 1,' not in text and '"seq": 3,' in text and "event: end" in text


def _face_heatmaps(updates: list[dict[str, Any]]) -> list[np.ndarray]:
    """The pictures of the heatmaps sent in ``updates`` (the tiny model's crops are 64 px)."""
    return [data_url_image(t["heatmap"]) for u in updates for t in u["tracks"] if "heatmap" in t]


@pytest.mark.parametrize("heatmaps", [True, False], ids=["heatmaps", "no-heatmaps"])
def test_a_loopback_stream_is_judged_through_the_api(
    make_settings: Callable[..., Settings],
    fake_analyzer: FakeAnalyzer,
    tiny_checkpoint: Path,
    real_clip: Path,
    tmp_path: Path,
    heatmaps: bool,
) -> None:
    sender = Sender(short_gop_copy(real_clip, tmp_path / "clip.mp4"), free_port())
    sender.start()
    settings = make_settings(
        live_allow_private_addresses=True, model_path=tiny_checkpoint, detector="opencv-ssd",
        live_heatmaps=heatmaps,
    )  # fmt: skip
    try:
        with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
            ann = sign_up(client, "ann@example.org")
            started = client.post("/api/live", json={"url": sender.url}, headers=ann)
            assert started.status_code == 201, started.text
            session_id = started.json()["id"]
            updates: list[dict[str, Any]] = []
            with client.stream("GET", f"/api/live/{session_id}/events", headers=ann) as response:
                for line in response.iter_lines():
                    if line.startswith("data:") and '"seq"' in line:
                        updates.append(json.loads(line.split(":", 1)[1]))
                        if len(updates) == 3:
                            client.delete(f"/api/live/{session_id}", headers=ann)
                    if line.startswith("event: end"):
                        break
    finally:
        sender.kill()
    assert len(updates) >= 3
    last = updates[-1]
    assert len(last["tracks"]) == 1 and last["tracks"][0]["frames"] >= 4
    assert last["verdict"] == "INCONCLUSIVE"  # the tiny model is untrained
    assert last["lag_s"] < 1.5
    # The face's latest heatmap comes with the updates (a small JPEG), or none when turned off.
    pictures = _face_heatmaps(updates)
    if heatmaps:
        assert pictures and all(p.shape == (64, 64, 3) for p in pictures)
    else:
        assert pictures == []


def _frame(picture: bytes, captured_ms: float) -> bytes:
    return struct.pack("<d", captured_ms) + picture


@pytest.mark.timeout(120)
def test_camera_frames_over_a_websocket(
    make_settings: Callable[..., Settings],
    fake_analyzer: FakeAnalyzer,
    tiny_checkpoint: Path,
    real_clip: Path,
) -> None:
    pictures = []
    for frame in sample_frames(real_clip, 24)[1]:
        _, data = cv2.imencode(".jpg", cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
        pictures.append(bytes(data))
    settings = make_settings(
        model_path=tiny_checkpoint, detector="opencv-ssd", live_max_frame_bytes=200_000,
        live_max_frames_per_second=12,
    )  # fmt: skip
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        sessions: LiveSessions = client.app.state.live  # type: ignore[attr-defined]
        ann = sign_up(client, "ann@example.org")
        token = ann["Authorization"].removeprefix("Bearer ")
        # Unauthenticated: one clear message, then the socket closes.
        with client.websocket_connect("/api/live/camera") as ws:
            ws.send_bytes(_frame(pictures[0], 0.0))
            assert "sign in first" in ws.receive_json()["error"]
        with client.websocket_connect("/api/live/camera") as ws:
            ws.send_text(json.dumps({"token": "not-a-token"}))
            assert "invalid or expired token" in ws.receive_json()["error"]
        with client.websocket_connect("/api/live/camera") as ws:
            ws.send_text(json.dumps({"token": token}))
            # Signed in and counted first: otherwise the second socket may win the place and the
            # first be refused (the test then waited forever for the second one's refusal).
            assert wait_until(lambda: sessions.running() == 1)
            # A second session of the same user is refused; the first goes on.
            with client.websocket_connect("/api/live/camera") as other:
                other.send_text(json.dumps({"token": token}))
                assert "already run 1 live session" in other.receive_json()["error"]
            ws.send_bytes(_frame(b"\xff\xd8" + bytes(300_000), 0.0))
            assert "over the 200000-byte limit" in ws.receive_json()["error"]
            ws.send_text("hello")
            assert "binary messages" in ws.receive_json()["error"]
            enough = threading.Event()

            def camera() -> None:  # 10 fps, as the page sends, until two updates came back
                k = 0
                while not enough.wait(0.1):
                    ws.send_bytes(_frame(pictures[k % len(pictures)], 1000.0 + 100.0 * k))
                    k += 1

            sending = threading.Thread(target=camera)
            sending.start()
            updates: list[dict[str, Any]] = []
            try:
                while len(updates) < 2:
                    message = ws.receive_json()
                    assert "error" not in message, message
                    updates.append(message["update"])
            finally:
                enough.set()
                sending.join()
        assert updates[-1]["tracks"] and updates[-1]["tracks"][0]["frames"] >= 3
        assert [p.shape for p in _face_heatmaps(updates)][:1] == [(64, 64, 3)]
        deadline = time.monotonic() + 10
        while sessions.running() and time.monotonic() < deadline:  # ends within an update
            time.sleep(0.05)
        assert sessions.running() == 0
        # Sending too fast: frames past the rate are refused one by one.
        with client.websocket_connect("/api/live/camera") as ws:
            ws.send_text(json.dumps({"token": token}))
            for k in range(30):
                ws.send_bytes(_frame(pictures[0], 5000.0 + k))
            ws.send_text("end")  # answered with an error too: read up to it, never past
            errors: list[str] = []
            while not errors or "binary messages" not in errors[-1]:
                message = ws.receive_json()
                if "error" in message:
                    errors.append(message["error"])
            refused = errors[:-1]
            assert refused and set(refused) == {"more than 12 frames a second; send fewer"}


@pytest.mark.timeout(60)
def test_a_camera_session_that_crashes_ends_with_one_message(client: TestClient) -> None:
    def broken(feed: Any, max_seconds: float, stop: threading.Event) -> Iterator[LiveUpdate]:
        feed.get(10.0)  # waits for the first frame, then fails like a bug would
        raise RuntimeError("boom")
        yield  # a generator, like the real runner

    app = client.app
    app.state.live = LiveSessions(  # type: ignore[attr-defined]
        limits_from(app.state.settings),
        _runner,
        broken,  # type: ignore[attr-defined]
    )
    token = sign_up(client, "cat@example.org")["Authorization"].removeprefix("Bearer ")
    picture = bytes(cv2.imencode(".jpg", np.zeros((64, 64, 3), np.uint8))[1])
    with client.websocket_connect("/api/live/camera") as ws:
        ws.send_text(json.dumps({"token": token}))
        ws.send_bytes(_frame(picture, 0.0))
        message = ws.receive_json()  # before the fix: no message, the client waited forever
    assert message == {"end": {"error": "the live session failed; see the service's log"}}
