"""The Provenance panel in a real browser: a clip signed at test time, its root trusted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deepverify.provenance.credentials import TRUST_ANCHORS_ENV
from tests.e2e.conftest import LiveServer, axe_violations, serve
from tests.e2e.test_web import ANALYSIS_TIMEOUT_MS, _api, _context, _sign_up
from tests.provenance.signing import SIGNER_NAME, SignedClips

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def trusting_server(
    chromium_path: Path,
    web_dir: Path,
    tiny_checkpoint: Path,
    c2pa_clips: SignedClips,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """``deepverify serve`` that trusts the test-made root certificate."""
    home = tmp_path_factory.mktemp("provenance_home")
    anchors = home / "anchors.pem"
    anchors.write_text(c2pa_clips.chain.root)
    env = {TRUST_ANCHORS_ENV: str(anchors), "DEEPVERIFY_NUM_FRAMES": "4"}
    with serve(web_dir=web_dir, model=tiny_checkpoint, home=home, env=env) as server:
        yield server


def test_panel_shows_signer_and_ai_declaration(
    trusting_server: LiveServer,
    browser: Any,
    artifacts: Path,
    c2pa_clips: SignedClips,
    axe: Path,
) -> None:
    context = _context(browser, trusting_server)
    page = context.new_page()
    try:
        _sign_up(page, "provenance@example.org")
        page.locator("#video-file").set_input_files(c2pa_clips.ai)
        page.wait_for_url("**/job/?id=*")
        panel = page.get_by_test_id("provenance-panel")
        panel.wait_for(timeout=ANALYSIS_TIMEOUT_MS)
        section = page.get_by_role("region", name="Provenance")
        assert section.is_visible()
        assert SIGNER_NAME in page.get_by_test_id("provenance-signer").inner_text()
        assert "made with AI" in page.get_by_test_id("provenance-ai").inner_text()
        assert "trainedAlgorithmicMedia" in page.get_by_test_id("provenance-ai").inner_text()
        # The page shows the API's sentence, not its own.
        video = _api(trusting_server, page, f"/api/videos/{page.url.split('id=')[1]}")
        summary = video["report"]["provenance"]["summary"]
        assert page.get_by_test_id("provenance-summary").inner_text() == summary
        assert "the signer says it was made with AI" in summary
        page.screenshot(path=artifacts / "12-provenance-panel.png", full_page=True)
        assert axe_violations(page) == []
    finally:
        context.close()
