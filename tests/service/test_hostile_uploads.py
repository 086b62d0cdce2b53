"""Hostile uploads against the real pipeline (tiny model): each is refused with a 4xx, fails its
job with a reason, or (when only the label is hostile) is handled safely; the server keeps
serving and leaves no temporary files behind."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient

from deepverify.service.core import storage
from deepverify.service.main import create_app
from tests.service.conftest import sign_up, wait_for
from tests.videos import make_video

MB = 1024 * 1024
REFUSED, FAILED, ANALYSED = "refused", "failed", "analysed"


@dataclass(frozen=True)
class Case:
    """A hostile request and the outcomes that are acceptable for it."""

    name: str
    build: Callable[[Path, Path], dict[str, Any]]  # (scratch dir, shared data) -> request kwargs
    expect: frozenset[str]
    reason: str | None = None  # a word the refusal or failure must contain


def _file(data: bytes, name: str = "clip.mp4", ctype: str = "video/mp4") -> dict[str, Any]:
    return {"files": {"file": (name, data, ctype)}}


def _video(tmp: Path, **kwargs: Any) -> bytes:
    return make_video(tmp / f"v{len(list(tmp.iterdir()))}.mp4", **kwargs).read_bytes()


def _audio_only(tmp: Path, container: str) -> bytes:
    path = tmp / f"audio.{container}"
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream("aac" if container == "mp4" else "pcm_s16le", rate=16000)
        samples = (np.sin(np.arange(16000) / 8) * 3000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 16000
        if container == "mp4":
            stream.format = "fltp"
            frame = av.AudioFrame.from_ndarray(
                samples.astype(np.float32) / 32768, format="fltp", layout="mono"
            )
            frame.sample_rate = 16000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path.read_bytes()


def _zip(tmp: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("movie.mp4", _video(tmp))
    return buffer.getvalue()


def _corrupt_middle(tmp: Path) -> bytes:
    data = bytearray(_video(tmp, seconds=1.0, width=96, height=64))
    middle = len(data) // 2
    data[middle : middle + 512] = np.random.default_rng(1).bytes(512)
    return bytes(data)


def _multipart(body: bytes, boundary: str = "xyzBOUNDARY") -> dict[str, Any]:
    return {
        "content": body,
        "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    }


def _part(name: str, filename: str, data: bytes, boundary: str = "xyzBOUNDARY") -> bytes:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    )
    return head.encode() + data + b"\r\n"


def _chunks(total: int) -> Iterator[bytes]:
    yield _part("file", "big.mp4", b"")[:-2]
    for _ in range(total // (256 * 1024)):
        yield b"\0" * (256 * 1024)
    yield b"\r\n--xyzBOUNDARY--\r\n"


R, F, A = frozenset({REFUSED}), frozenset({REFUSED, FAILED}), frozenset({ANALYSED})
RANDOM = np.random.default_rng(0)
CASES = [
    Case("empty file", lambda t, s: _file(b""), R, "empty"),
    Case("random 4 KB", lambda t, s: _file(RANDOM.bytes(4096)), R),
    Case("random 1 MB", lambda t, s: _file(RANDOM.bytes(MB)), R),
    Case("mp4 header only", lambda t, s: _file(_video(t)[:64]), F),
    Case("truncated mp4", lambda t, s: _file(_video(t)[: len(_video(t)) // 2]), F),
    Case("truncated mp4 (last byte)", lambda t, s: _file(_video(t)[:-1]), F | A),
    Case("PNG image", lambda t, s: _file((s / "images/astronaut.png").read_bytes()), R, "image"),
    Case("JPEG named .mp4", lambda t, s: _file((s / "images/messi5.jpg").read_bytes()), R),
    Case("audio only (m4a as mp4)", lambda t, s: _file(_audio_only(t, "mp4")), R, "audio"),
    Case("audio only (wav)", lambda t, s: _file(_audio_only(t, "wav"), "a.wav"), R, "audio"),
    Case(
        "too many pixels",
        lambda t, s: _file(_video(t, width=1920, height=1088, seconds=0.2)),
        R,
        "pixels",
    ),
    Case("too long", lambda t, s: _file(_video(t, fps=2, seconds=8)), R, "longer"),
    Case("single frame", lambda t, s: _file(_video(t, seconds=0.1)), R, "single frame"),
    Case("too large", lambda t, s: _file(RANDOM.bytes(3 * MB)), R, "limit"),
    Case(
        "too large, streamed without length",
        lambda t, s: _multipart(_chunks(3 * MB)),
        R,
        "limit",
    ),
    Case("zip renamed .mp4", lambda t, s: _file(_zip(t)), R),
    Case("HTML named .mp4", lambda t, s: _file(b"<html><script>alert(1)</script></html>"), R),
    Case("shell script", lambda t, s: _file(b"#!/bin/sh\nrm -rf /\n", "x.sh", "text/x-sh"), R),
    Case("PDF", lambda t, s: _file(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"), R),
    Case("random bytes claiming video/mp4", lambda t, s: _file(RANDOM.bytes(9000)), R),
    Case("corrupt middle", lambda t, s: _file(_corrupt_middle(t)), F | A),
    Case(
        "no face",
        lambda t, s: _file(_video(t, width=128, height=128, face_image=s / "images/baboon.jpg")),
        A,
        "No face",
    ),
    Case(
        "not multipart",
        lambda t, s: {"content": _video(t), "headers": {"Content-Type": "video/mp4"}},
        R,
        "multipart",
    ),
    Case("JSON body", lambda t, s: {"json": {"file": "AAAA"}}, R, "multipart"),
    Case(
        "wrong field name",
        lambda t, s: {"files": {"video": ("a.mp4", _video(t), "video/mp4")}},
        R,
        "'file'",
    ),
    Case("form field without a file", lambda t, s: {"data": {"file": "not a file"}}, R),
    Case(
        "cut-off multipart",
        lambda t, s: _multipart(_part("file", "a.mp4", _video(t))),
        R,
        "cut off",
    ),
    Case("garbage boundary", lambda t, s: _multipart(RANDOM.bytes(5000)), R),
    Case(
        "too many parts",
        lambda t, s: _multipart(
            b"".join(_part(f"f{i}", "a.mp4", b"x") for i in range(20)) + b"--xyzBOUNDARY--\r\n"
        ),
        R,
        "too many parts",
    ),
    # Hostile labels on a real video: the content decides, the name never reaches the disk.
    Case("../ in the file name", lambda t, s: _file(_video(t), "../../../etc/passwd.mp4"), A),
    Case("NUL in the file name", lambda t, s: _file(_video(t), "evil\x00.mp4"), A),
    Case("Windows path name", lambda t, s: _file(_video(t), "C:\\Windows\\..\\x.mp4"), A),
    Case("1000-character name", lambda t, s: _file(_video(t), "a" * 1000 + ".mp4"), A),
    Case("100 000-character name", lambda t, s: _file(_video(t), "a" * 100_000 + ".mp4"), R),
    Case("script in the name", lambda t, s: _file(_video(t), "<script>alert(1)</script>.mp4"), A),
    Case("video as text/plain", lambda t, s: _file(_video(t), "notes.txt", "text/plain"), A),
    Case(
        "AVI with MPEG-4",
        lambda t, s: _file(
            make_video(t / "x.avi", codec="mpeg4").read_bytes(), "x.avi", "video/x-msvideo"
        ),
        A,
    ),
]


# One of each kind of outcome and check runs by default; every case runs in the slow set.
DEFAULT_CASES = {
    "empty file",
    "random 1 MB",
    "truncated mp4",
    "PNG image",
    "too long",
    "not multipart",
    "../ in the file name",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, tiny_checkpoint) -> Iterator[tuple[TestClient, Any, dict]]:
    from deepverify.service.core.settings import Settings
    from tests.service.conftest import TEST_SECRET

    home = tmp_path_factory.mktemp("hostile")
    settings = Settings(
        environment="test",
        secret_key=TEST_SECRET,
        home=home,
        model_path=tiny_checkpoint,
        num_frames=4,
        max_upload_bytes=2 * MB,
        max_video_pixels=1280 * 720,
        max_video_seconds=5,
        poll_interval_seconds=0.05,
    )
    with TestClient(create_app(settings)) as client:
        yield client, settings, sign_up(client, "hostile@example.com")


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c.name, marks=() if c.name in DEFAULT_CASES else pytest.mark.slow)
        for c in CASES
    ],
)
def test_hostile_upload(case: Case, hostile, tmp_path, shared_data):
    client, settings, headers = hostile
    request = case.build(tmp_path, shared_data)
    request["headers"] = {**headers, **request.get("headers", {})}
    response = client.post("/api/videos", **request)
    if response.status_code >= 400:
        outcome, reason = REFUSED, response.json()["detail"]
        assert 400 <= response.status_code < 500, response.text
        assert isinstance(reason, str) and "\n" not in reason and "Traceback" not in reason
    else:
        assert response.status_code == 202, response.text
        video = wait_for(client, headers, response.json()["id"], timeout=120)
        outcome = FAILED if video["status"] == "failed" else ANALYSED
        reason = video["error"] if outcome == FAILED else video["report"]["explanation"]
        if outcome == ANALYSED:
            name = video["filename"]
            assert "/" not in name and "\\" not in name and "\x00" not in name and len(name) <= 255
            page = client.get(video["report_html_url"], headers=headers).text
            assert "<script>alert" not in page
    assert outcome in case.expect, f"{case.name}: {outcome} ({reason})"
    if case.reason:
        assert case.reason.lower() in reason.lower(), reason
    # The server keeps serving and leaves nothing behind.
    assert client.get("/api/health").status_code == 200
    assert list(storage.incoming_dir(settings).iterdir()) == []
    leftovers = [
        p
        for p in storage.results_dir(settings).iterdir()
        if p.name.endswith(".tmp") or p.name.startswith(".")
    ]
    assert leftovers == []
    assert all(p.parent in (storage.uploads_dir(settings), storage.incoming_dir(settings))
               for p in storage.uploads_dir(settings).rglob("*"))  # fmt: skip
