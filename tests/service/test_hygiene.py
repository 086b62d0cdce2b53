"""Leftovers of a crash swept on start; bounded listing offsets; capped JSON bodies."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from deepverify.service import storage
from deepverify.service.main import create_app
from tests.service.conftest import sign_up


@pytest.mark.parametrize("database_url", [None])
def test_a_part_file_left_by_a_killed_upload_is_gone_after_restart(make_settings, fake_analyzer):
    settings = make_settings()
    incoming = storage.incoming_dir(settings)
    incoming.mkdir(parents=True)
    stale, live = incoming / "dead.part", incoming / "live.part"
    stale.write_bytes(b"half an upload")
    live.write_bytes(b"still arriving")
    old = os.stat(stale).st_mtime - settings.upload_timeout_seconds - 60
    os.utime(stale, (old, old))
    leftover = storage.results_dir(settings) / "abc.worker.tmp"
    leftover.mkdir(parents=True)
    os.utime(leftover, (old, old))
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)):
        pass
    assert not stale.exists() and not leftover.exists()
    assert live.exists()  # younger than any upload could be: maybe another process's


@pytest.mark.parametrize("database_url", [None])
def test_huge_offsets_and_bodies_are_4xx(client):
    headers = sign_up(client, "hygiene@example.com")
    assert client.get("/api/videos", headers=headers, params={"skip": 2**63}).status_code == 422
    big = {"email": "x@example.com", "password": "y" * 200_000}
    assert client.post("/api/auth/register", json=big).status_code == 413
