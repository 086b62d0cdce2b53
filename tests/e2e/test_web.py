"""The web UI in a real browser against a real ``deepverify serve`` (tiny model, loopback).

One journey covers what a user does: sign up, upload a clip, watch the stages, read the verdict,
open a heatmap, download the reports, find the video in the history and delete it. Other tests
cover bad files, an unreachable server, a phone-sized screen and keyboard access. Screenshots of
each page go to ``tests/e2e/artifacts/``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MAX_UPLOAD_BYTES, LiveServer, axe_violations

pytestmark = pytest.mark.e2e  # the journey runs by default, the other pages in the slow set

PASSWORD = "correct-horse-battery"
ANALYSIS_TIMEOUT_MS = 120_000
_VALUES = "bars => bars.map(bar => bar.value)"
_UPLOAD_VALUE = """() => {
    const bar = document.querySelector('#upload-progress');
    return bar ? (bar.hasAttribute('value') ? bar.value : -1) : null;
}"""
_UNTHROTTLED = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}


def _context(browser: Any, server: LiveServer, **options: Any) -> Any:
    context = browser.new_context(base_url=server.url, accept_downloads=True, **options)
    context.set_default_timeout(20_000)
    return context


def _sign_up(page: Any, email: str) -> None:
    page.goto("/signup/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Check a video").wait_for()


def _api(server: LiveServer, page: Any, path: str) -> Any:
    token = page.evaluate("() => localStorage.getItem('deepverify.token')")
    response = httpx.get(
        server.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def _watch_upload(page: Any, screenshot: Path) -> set[float]:
    """The values the upload progress bar takes until the page moves on (-1: indeterminate)."""
    from playwright.sync_api import Error

    seen: set[float] = set()
    while True:
        try:
            value = page.evaluate(_UPLOAD_VALUE)
        except Error:  # the page navigated away mid-call
            return seen
        if value is None:
            return seen
        if 0 < value < 100 and not any(0 < v < 100 for v in seen):
            page.screenshot(path=screenshot)
        seen.add(value)
        page.wait_for_timeout(50)


# The natural width of the image at selector once it shows a different source than old and has
# loaded; false until then.
_LOADED = """([selector, old]) => {
    const img = document.querySelector(selector);
    const loaded = img && img.src !== old && img.complete && img.naturalWidth > 0;
    return loaded ? img.naturalWidth : false;
}"""


def _swap(page: Any, selector: str, action: Callable[[], None], rel_path: str) -> int:
    """Do ``action``; check the image at ``selector`` now loads ``rel_path`` of the report.

    Returns the new image's natural width. The page shows images through object URLs, so the
    request to the API for the report's path is what tells which image it is.
    """
    old = page.locator(selector).get_attribute("src")
    suffix = "/images/" + rel_path
    with page.expect_response(lambda r: r.url.split("?")[0].endswith(suffix)) as response:
        action()
    assert response.value.status == 200, f"{rel_path}: {response.value.status}"
    width = page.wait_for_function(_LOADED, arg=[selector, old]).json_value()
    assert isinstance(width, int) and width > 0
    return width


def _no_horizontal_scroll(page: Any) -> bool:
    return bool(
        page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    )


def test_sign_up_upload_verdict_heatmap_history_delete(
    live_server: LiveServer, browser: Any, artifacts: Path, shared_data: Path, axe: Path
) -> None:
    clip = shared_data / "eval" / "real" / "ffpp_004.mp4"
    context = _context(browser, live_server)
    page = context.new_page()
    accessibility: dict[str, list[str]] = {}
    try:
        # Anonymous visitors land on the sign-in page.
        page.goto("/")
        page.wait_for_url(re.compile(r"/login/"))
        page.get_by_role("heading", name="Sign in").wait_for()
        page.screenshot(path=artifacts / "01-login.png", full_page=True)
        accessibility["login"] = axe_violations(page)

        page.goto("/signup/")
        page.get_by_role("heading", name="Create an account").wait_for()
        page.screenshot(path=artifacts / "02-signup.png", full_page=True)
        accessibility["signup"] = axe_violations(page)
        _sign_up(page, "ada@example.org")
        assert page.get_by_text("ada@example.org").is_visible()
        page.screenshot(path=artifacts / "03-upload.png", full_page=True)
        accessibility["upload"] = axe_violations(page)

        # Upload through the file picker on a slow link, so the progress bar is seen moving;
        # the job page follows with live stages.
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 96_000},
        )
        page.locator("#video-file").set_input_files(clip)
        page.locator("#upload-progress").wait_for()
        uploaded = _watch_upload(page, artifacts / "03b-uploading.png")
        page.wait_for_url(re.compile(r"/job/\?id="))
        cdp.send("Network.emulateNetworkConditions", _UNTHROTTLED)
        assert len({v for v in uploaded if 0 < v < 100}) >= 2, f"no upload progress: {uploaded}"
        video_id = page.url.split("id=")[1]
        # Live progress: the stage bars move without a reload until the verdict replaces them.
        page.locator("[data-stage]").first.wait_for()
        page.screenshot(path=artifacts / "04-job-progress.png", full_page=True)
        verdict = page.get_by_test_id("verdict")
        snapshots: set[tuple[float, ...]] = set()
        deadline = time.monotonic() + ANALYSIS_TIMEOUT_MS / 1000
        while not verdict.is_visible() and time.monotonic() < deadline:
            snapshots.add(tuple(page.locator("[data-stage] progress").evaluate_all(_VALUES)))
            page.wait_for_timeout(100)
        verdict.wait_for(timeout=1000)
        assert len(snapshots) >= 2, f"progress never moved: {snapshots}"
        assert page.locator("[data-stage]").count() == 0  # the bars are gone once done
        video = _api(live_server, page, f"/api/videos/{video_id}")
        assert video["status"] == "done"
        report = video["report"]
        # The page shows the API's verdict, probability and explanation, not its own.
        assert page.locator("#verdict-label").inner_text() == report["verdict"].replace("_", " ")
        assert report["explanation"] in verdict.inner_text()
        if report["probability"] is not None:
            assert f"{100 * report['probability']:.1f}%" in verdict.inner_text()
        assert page.get_by_test_id("job-status").inner_text() == "Done"
        page.screenshot(path=artifacts / "05-job-verdict.png", full_page=True)
        page.locator(".gallery img").first.wait_for()
        accessibility["job"] = axe_violations(page)

        # The same page on a phone-sized screen: nothing wider than the screen.
        page.set_viewport_size({"width": 375, "height": 740})
        page.screenshot(path=artifacts / "05b-job-verdict-phone.png", full_page=True)
        assert _no_horizontal_scroll(page)
        page.set_viewport_size({"width": 1280, "height": 720})

        # One row per face track, and a chart line per track.
        tracks_table = page.locator("table", has_text="Face tracks and their scores")
        assert tracks_table.locator("tbody tr").count() == len(report["tracks"])
        assert page.locator("svg[role=img] polyline").count() == len(report["tracks"])

        # Heatmap gallery: one thumbnail per face with a heatmap. The overlay switch (keyboard)
        # shows the plain crops the report names; the viewer shows the full frame, with and
        # without overlay, and the face crop.
        faces = [(frame, f) for frame in report["frames"] for f in frame["faces"] if f["heatmap"]]
        assert faces, "the clip's faces got no heatmaps"
        frame, face = faces[0]
        assert face["crop"] and frame["overlay"] and frame["image"]
        thumbs = page.locator(".gallery .thumb")
        assert thumbs.count() == len(faces)
        thumb = ".gallery li:first-child img"
        switch = page.get_by_role("switch", name="Show heatmap overlay")
        assert switch.is_checked()
        switch.focus()
        crop_width = _swap(page, thumb, lambda: page.keyboard.press("Space"), face["crop"])
        assert not switch.is_checked()
        assert crop_width > 0 and "without overlay" in (
            page.locator(thumb).get_attribute("alt") or ""
        )
        page.screenshot(path=artifacts / "06-heatmap-off.png", full_page=False)
        assert _swap(page, thumb, switch.click, face["heatmap"]) == crop_width

        thumbs.first.click()
        dialog = page.get_by_role("dialog")
        image = "dialog img"
        dialog.locator("img").wait_for()
        frame_width = page.wait_for_function(_LOADED, arg=[image, ""]).json_value()
        page.screenshot(path=artifacts / "07-heatmap-frame.png", full_page=False)
        overlay_switch = dialog.get_by_role("switch", name="Heatmap overlay")
        plain_width = _swap(page, image, overlay_switch.uncheck, frame["image"])
        assert plain_width == frame_width  # the same frame, without the overlay
        page.screenshot(path=artifacts / "07b-frame-plain.png", full_page=False)
        face_width = _swap(page, image, dialog.get_by_label("Full frame").uncheck, face["crop"])
        assert face_width == crop_width != frame_width
        assert _swap(page, image, overlay_switch.check, face["heatmap"]) == crop_width
        page.screenshot(path=artifacts / "07c-heatmap-face.png", full_page=False)
        page.keyboard.press("Escape")
        dialog.wait_for(state="hidden")

        # Both reports download and match the API.
        with page.expect_download() as json_download:
            page.get_by_role("button", name="Download JSON report").click()
        saved = json.loads(Path(json_download.value.path()).read_text())
        assert saved["verdict"] == report["verdict"]
        assert saved["video"]["sha256"] == report["video"]["sha256"]
        with page.expect_download() as html_download:
            page.get_by_role("button", name="Download HTML report").click()
        assert "<html" in Path(html_download.value.path()).read_text().lower()

        # History: the video with its verdict, then deleted.
        page.get_by_role("link", name="History").click()
        row = page.get_by_test_id("history-row")
        row.wait_for()
        assert row.count() == 1
        assert clip.name in row.inner_text()
        assert report["verdict"].replace("_", " ") in row.inner_text()
        page.screenshot(path=artifacts / "08-history.png", full_page=True)
        accessibility["history"] = axe_violations(page)

        page.once("dialog", lambda dialog: dialog.accept())
        row.get_by_role("button", name=f"Delete {clip.name}").click()
        page.get_by_text("No videos yet").wait_for()
        assert _api(live_server, page, "/api/videos")["count"] == 0
        page.goto(f"/job/?id={video_id}")
        page.get_by_role("heading", name="Video not found").wait_for()
    finally:
        context.close()
    assert {name: found for name, found in accessibility.items() if found} == {}


@pytest.mark.slow
def test_bad_files_show_clear_errors(
    live_server: LiveServer, browser: Any, artifacts: Path, tmp_path: Path
) -> None:
    context = _context(browser, live_server)
    page = context.new_page()
    try:
        _sign_up(page, "bob@example.org")
        alert = page.locator(".alert[role=alert]")  # not Next's route announcer

        # Not a video by its type: refused before any byte is sent.
        notes = tmp_path / "notes.txt"
        notes.write_text("not a video\n")
        page.locator("#video-file").set_input_files(notes)
        alert.wait_for()
        assert "notes.txt" in alert.inner_text()
        assert "not a video" in alert.inner_text()

        # Dropped onto the drop zone: the same check.
        page.evaluate(
            """() => {
                const data = new DataTransfer();
                data.items.add(new File(['%PDF-1.4'], 'scan.pdf', { type: 'application/pdf' }));
                const zone = document.querySelector('[data-testid=dropzone]');
                zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true }));
            }"""
        )
        page.get_by_text("“scan.pdf” is not a video").wait_for()

        # One byte over the limit the server states: refused before sending, saying the limit.
        config = httpx.get(live_server.url + "/api/auth/config", timeout=10).json()
        assert config["max_upload_bytes"] == MAX_UPLOAD_BYTES
        assert "up to 5.0 MB" in page.get_by_test_id("dropzone").inner_text()
        posts: list[str] = []
        page.on("request", lambda request: posts.append(f"{request.method} {request.url}"))
        page.evaluate(
            """size => {
                const data = new DataTransfer();
                const bytes = new Uint8Array(size);
                data.items.add(new File([bytes], 'long-take.mp4', { type: 'video/mp4' }));
                const zone = document.querySelector('[data-testid=dropzone]');
                zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true }));
            }""",
            MAX_UPLOAD_BYTES + 1,
        )
        page.get_by_text("“long-take.mp4” is too large").wait_for()
        assert "this server accepts videos up to 5.0 MB" in alert.inner_text()
        assert not [sent for sent in posts if sent.startswith("POST")]

        # Named like a video but not one: the server decodes it, refuses it, the page says why.
        fake = tmp_path / "holiday.mp4"
        fake.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)
        page.locator("#video-file").set_input_files(fake)
        page.get_by_role("alert").filter(has_text="holiday.mp4").wait_for()
        assert page.url.endswith("/")  # stayed on the upload page
        page.screenshot(path=artifacts / "09-upload-error.png", full_page=True)
        assert _api(live_server, page, "/api/videos")["count"] == 0
    finally:
        context.close()


@pytest.mark.slow
def test_unreachable_server_is_a_message_not_a_blank_page(
    live_server: LiveServer, browser: Any, artifacts: Path
) -> None:
    context = _context(browser, live_server)
    page = context.new_page()
    try:
        page.goto("/login/")
        page.get_by_role("heading", name="Sign in").wait_for()
        page.route("**/api/**", lambda route: route.abort("connectionrefused"))
        page.get_by_label("Email").fill("carol@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("alert").filter(has_text="Cannot reach the deepverify server").wait_for()
        page.screenshot(path=artifacts / "10-server-down.png", full_page=True)
    finally:
        context.close()


@pytest.mark.slow
def test_phone_screen_dark_mode_keyboard_and_labels(
    live_server: LiveServer, browser: Any, artifacts: Path, axe: Path
) -> None:
    context = _context(
        browser,
        live_server,
        viewport={"width": 375, "height": 740},
        is_mobile=True,
        color_scheme="dark",
    )
    page = context.new_page()
    try:
        _sign_up(page, "dan@example.org")
        page.screenshot(path=artifacts / "11-phone-upload-dark.png", full_page=True)
        assert _no_horizontal_scroll(page)
        assert axe_violations(page) == []
        page.goto("/history/")
        page.get_by_text("No videos yet").wait_for()
        page.screenshot(path=artifacts / "12-phone-history-dark.png", full_page=True)
        assert _no_horizontal_scroll(page)
        assert axe_violations(page) == []

        # Keyboard: the first Tab reaches the skip link, and the picker button is reachable.
        page.goto("/")
        page.get_by_role("heading", name="Check a video").wait_for()
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
        for _ in range(12):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.textContent") == "Choose a video…":
                break
        else:
            pytest.fail("the 'Choose a video…' button is not reachable with Tab")

        # Every form control on the sign-up page has an accessible name.
        page.evaluate("() => localStorage.clear()")
        page.goto("/signup/")
        page.get_by_role("heading", name="Create an account").wait_for()
        unnamed = page.evaluate(
            """() => [...document.querySelectorAll('input, button, select, textarea')]
                .filter(el => el.type !== 'hidden')
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                              && !el.textContent.trim())
                .map(el => el.outerHTML)"""
        )
        assert unnamed == []
    finally:
        context.close()
