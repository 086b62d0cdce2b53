"""The web UI's Live page in a real browser against a real ``deepverify serve`` (tiny model).

Chromium's fake camera plays a real face clip (a ``.y4m`` made from the shared clip: an ``.mjpeg``
fake camera delivers black frames); the page captures it, pushes JPEG frames over the WebSocket
and must show updates with a tracked face and its probability. Headless screen sharing gives only
a test pattern, so the screen path is checked to connect and get updates, with no face.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, axe_violations, chromium
from tests.e2e.test_web import _context, _no_horizontal_scroll, _sign_up

pytestmark = pytest.mark.e2e  # both run by default: together about 15 s with the server start

# The first update waits for the model and detector to load on a shared machine.
FIRST_UPDATE_TIMEOUT_MS = 120_000
Y4M_FRAMES = 75  # 3 s at 25 fps; Chromium loops the file
PERCENT = re.compile(r"^\d{1,3}\.\d%$")
# Keeps the page's WebSockets reachable so a test can drop the connection under it.
_TRACK_SOCKETS = """
window.__sockets = [];
window.WebSocket = class extends window.WebSocket {
    constructor(...args) { super(...args); window.__sockets.push(this); }
};
"""


def write_y4m(clip: Path, out: Path, frames: int = Y4M_FRAMES) -> Path:
    """The first ``frames`` frames of ``clip`` as raw 4:2:0 YUV4MPEG2, for the fake camera."""
    import av

    with av.open(str(clip)) as source, av.open(str(out), "w", format="yuv4mpegpipe") as sink:
        stream = source.streams.video[0]
        video = sink.add_stream("rawvideo", rate=25)
        video.width, video.height, video.pix_fmt = stream.width, stream.height, "yuv420p"
        for index, frame in enumerate(source.decode(stream)):
            if index >= frames:
                break
            for packet in video.encode(frame.reformat(format="yuv420p")):
                sink.mux(packet)
        for packet in video.encode():
            sink.mux(packet)
    return out


@pytest.fixture(scope="module")
def media_browser(
    chromium_path: Path, real_clip: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """Headless Chromium whose camera is the real clip and whose screen share needs no click."""
    y4m = write_y4m(real_clip, tmp_path_factory.mktemp("camera") / "face.y4m")
    with chromium(
        chromium_path,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
        "--auto-select-desktop-capture-source=Entire screen",
    ) as instance:
        yield instance


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _start(page: Any, source: str) -> None:
    page.goto("/live/")
    page.get_by_role("heading", name="Live").wait_for()
    page.get_by_label(source, exact=True).check()
    page.get_by_role("button", name="Start").click()


def test_camera_shows_a_tracked_face_and_its_probability(
    media_browser: Any, live_server: LiveServer, artifacts: Path, axe: Path
) -> None:
    context = _context(media_browser, live_server)
    try:
        page = context.new_page()
        _sign_up(page, "live-camera@example.com")
        _start(page, "Camera")
        page.get_by_test_id("live-connection").wait_for()
        track = page.get_by_test_id("live-track").first
        track.wait_for(timeout=FIRST_UPDATE_TIMEOUT_MS)
        probability = track.get_by_test_id("live-track-probability").inner_text()
        assert PERCENT.match(probability), probability
        expect(page.get_by_test_id("live-connection")).to_have_attribute("data-state", "live")
        assert PERCENT.match(page.get_by_test_id("live-probability").inner_text())
        assert re.match(r"^\d+\.\d+ s$", page.get_by_test_id("live-lag").inner_text())
        assert re.match(r"^\d+\.\d fps$", page.get_by_test_id("live-fps").inner_text())
        # The chart grows: a second update adds a point to the face's line.
        page.wait_for_function(
            """() => (document.querySelector('[data-testid=live-track] path')
                      ?.getAttribute('d') ?? '').includes('L')""",
            timeout=60_000,
        )
        # The face's latest heatmap beside its chart: a picture the browser decoded (the tiny
        # model's crops are 64 px), with an alternative text.
        heatmap = page.get_by_test_id("live-track-heatmap").first
        heatmap.wait_for(timeout=60_000)
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth > 0", arg=heatmap.element_handle()
        )
        shown = heatmap.evaluate("(img) => [img.naturalWidth, img.naturalHeight, img.src]")
        assert shown[:2] == [64, 64] and shown[2].startswith("data:image/jpeg;base64,")
        assert "Face " in (heatmap.get_attribute("alt") or "")
        page.screenshot(path=artifacts / "live-camera.png", full_page=True)
        assert axe_violations(page) == []
        page.set_viewport_size({"width": 375, "height": 740})  # a phone: nothing wider
        assert _no_horizontal_scroll(page)
        page.get_by_role("button", name="Stop").click()
        expect(page.get_by_test_id("live-connection")).to_have_attribute("data-state", "ended")
    finally:
        context.close()


def test_screen_share_connects_and_gets_updates(
    media_browser: Any, live_server: LiveServer
) -> None:
    context = _context(media_browser, live_server)
    try:
        page = context.new_page()
        _sign_up(page, "live-screen@example.com")
        _start(page, "Screen")
        page.get_by_test_id("live-verdict").wait_for(timeout=FIRST_UPDATE_TIMEOUT_MS)
        expect(page.get_by_test_id("live-connection")).to_have_attribute("data-state", "live")
        page.get_by_role("button", name="Stop").click()
    finally:
        context.close()


def test_camera_reconnects_when_the_connection_drops(
    media_browser: Any, live_server: LiveServer
) -> None:
    context = _context(media_browser, live_server)
    context.add_init_script(_TRACK_SOCKETS)
    try:
        page = context.new_page()
        _sign_up(page, "live-reconnect@example.com")
        _start(page, "Camera")
        page.get_by_test_id("live-verdict").wait_for(timeout=FIRST_UPDATE_TIMEOUT_MS)
        connection = page.get_by_test_id("live-connection")
        expect(connection).to_have_attribute("data-state", "live")
        page.evaluate("() => window.__sockets.at(-1).close()")
        expect(connection).to_have_attribute("data-state", "reconnecting")
        expect(connection).to_have_attribute("data-state", "live", timeout=FIRST_UPDATE_TIMEOUT_MS)
        assert page.evaluate("() => window.__sockets.length") >= 2
        page.get_by_test_id("live-track").first.wait_for()
    finally:
        context.close()


def test_a_refused_stream_url_says_why(media_browser: Any, live_server: LiveServer) -> None:
    context = _context(media_browser, live_server)
    try:
        page = context.new_page()
        _sign_up(page, "live-url@example.com")
        page.goto("/live/")
        page.get_by_label("Stream URL", exact=True).check()
        page.get_by_role("textbox", name="Stream URL").fill("http://127.0.0.1:9/stream")
        page.get_by_role("button", name="Start").click()
        # Loopback is refused by default (SSRF): the API's reason is shown, nothing starts.
        expect(page.locator(".alert.error")).to_contain_text("a private, loop")
        expect(page.get_by_role("button", name="Start")).to_be_enabled()
    finally:
        context.close()
