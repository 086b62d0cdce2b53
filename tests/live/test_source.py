"""Live sources: bad input fails fast with one clear line; the sampler picks scan's frames."""

from __future__ import annotations

import socket
import threading
import time
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from deepverify.live.options import SourceOptions
from deepverify.live.source import LiveSource, LiveSourceError, describe
from deepverify.video.frames import FrameStream, probe_video
from tests.videos import make_video


def _drain(source: LiveSource, limit_s: float = 20.0) -> list[int]:
    """Every sampled frame's index until a file ends."""
    indices: list[int] = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            arrival = source.get(timeout=1.0)
        except EOFError:
            return indices
        if arrival is not None:
            indices.append(arrival.frame.index)
    raise AssertionError("the file did not end")


def test_a_file_played_as_a_stream_is_sampled_at_scans_frames(real_clip: Path) -> None:
    info = probe_video(real_clip)
    frames = 8
    fps = frames / info.duration_s
    with LiveSource(str(real_clip), fps=fps) as source:
        started = time.monotonic()
        picked = _drain(source)
        took = time.monotonic() - started
    assert picked == FrameStream(real_clip, frames).wanted
    assert source.dropped == 0
    assert took > info.duration_s - 0.5  # played at its real speed, not as fast as it decodes


def test_unsupported_protocol_and_missing_file_are_refused() -> None:
    with pytest.raises(LiveSourceError, match="unsupported protocol 'ftp'"):
        LiveSource("ftp://example.org/a.mp4", fps=1)
    with pytest.raises(LiveSourceError, match="no such file or stream URL"):
        LiveSource("/nonexistent/clip.mp4", fps=1)


def test_credentials_are_not_shown() -> None:
    assert describe("rtsp://user:secret@cam.local:554/s?token=x") == "rtsp://cam.local:554/s"


def _first_error(url: str, options: SourceOptions) -> str:
    with (
        LiveSource(url, fps=2, options=options) as source,
        pytest.raises(LiveSourceError) as caught,
    ):
        source.get(timeout=30.0)
    return str(caught.value)


def test_a_url_that_never_answers_fails_after_the_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog), never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/live.flv"
        started = time.monotonic()
        message = _first_error(url, SourceOptions(open_timeout_s=1.0, read_timeout_s=1.0))
        took = time.monotonic() - started
    assert "did not answer within 1 s" in message
    assert message.count("\n") == 0
    assert 0.9 < took < 5.0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """An HTTP server on loopback serving the files of ``tmp_path``; its base URL."""
    folder = tmp_path

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = (folder / self.path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_stream_that_is_not_video_is_refused(tmp_path: Path, served: str) -> None:
    with wave.open(str(tmp_path / "tone.wav"), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(bytes(16000))
    (tmp_path / "page.html").write_text("<html><body>not a stream</body></html>" * 50)
    options = SourceOptions(open_timeout_s=5.0, read_timeout_s=5.0)
    assert _first_error(f"{served}/tone.wav", options).endswith(
        "audio only; give a source with video"
    )
    assert "cannot be opened" in _first_error(f"{served}/page.html", options)


def test_an_absurd_resolution_is_refused(tmp_path: Path) -> None:
    wide = make_video(tmp_path / "wide.mp4", width=8200, height=16, fps=10, seconds=0.3)
    options = SourceOptions(open_timeout_s=5.0)
    assert _first_error(str(wide), options).endswith(
        "frames of 8200x16 exceed the 8192-pixel limit"
    )
