"""The provenance section in the API response, for every state, through the real pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deepverify.provenance.credentials import TRUST_ANCHORS_ENV
from deepverify.service.main import create_app
from tests.provenance.signing import SIGNER_NAME, SignedClips
from tests.service.conftest import sign_up, upload, wait_for

EXPECTED = {
    "ai": "valid",
    "changed": "content_changed",
    "corrupt": "unreadable",
    "unsigned": "absent",
}


def test_every_state_in_the_api_response(
    make_settings,
    tiny_checkpoint: Path,
    c2pa_clips: SignedClips,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    anchors = tmp_path / "anchors.pem"
    anchors.write_text(c2pa_clips.chain.root)
    monkeypatch.setenv(TRUST_ANCHORS_ENV, str(anchors))
    settings = make_settings(model_path=tiny_checkpoint, num_frames=4, worker_concurrency=2)
    with TestClient(create_app(settings)) as client:
        headers = sign_up(client, "provenance@example.com")
        ids = {
            name: upload(client, headers, getattr(c2pa_clips, name).read_bytes()).json()["id"]
            for name in EXPECTED
        }
        videos = {name: wait_for(client, headers, ids[name], timeout=600) for name in EXPECTED}
    for name, status in EXPECTED.items():
        video = videos[name]
        assert video["status"] == "done", video["error"]
        section = video["report"]["provenance"]
        assert section["content_credentials"]["status"] == status, name
        assert section["summary"]
    ai = videos["ai"]["report"]
    credentials = ai["provenance"]["content_credentials"]
    assert credentials["signer"]["subject"] == SIGNER_NAME
    assert credentials["digital_source_types"] == ["trainedAlgorithmicMedia"]
    assert "declares it was made with AI" in ai["explanation"]
    assert videos["unsigned"]["report"]["schema_version"] == "1.2"
    assert "Content Credentials" not in videos["unsigned"]["report"]["explanation"]
    reason = videos["corrupt"]["report"]["provenance"]["content_credentials"]["reason"]
    assert reason and "\n" not in reason
