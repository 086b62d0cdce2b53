"""Leftovers of a crash swept on start; bounded listing offsets; capped JSON bodies."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from deepverify.service.core import storage
from deepverify.service.main import create_app
from tests.service.conftest import sign_up


@pytest.mark.parametrize("database_url", [None])
def test_a_part_file_left_by_a_killed_upload_is_gone_after_restart(make_settings, fake_analyzer):
    settings = make_settings()
    incoming = storage.incoming_dir(settings)
    incoming.mkdir(parents=True)
    stale, young = incoming / "dead.part", incoming / "just-died.part"
    stale.write_bytes(b"half an upload")
    young.write_bytes(b"cut off a second ago")  # nobody holds its lock: a crash's, however young
    old = os.stat(stale).st_mtime - settings.upload_timeout_seconds - 60
    os.utime(stale, (old, old))
    leftover = storage.results_dir(settings) / "abc.worker.tmp"
    leftover.mkdir(parents=True)
    os.utime(leftover, (old, old))
    with storage.receiving(incoming) as live:  # another process sharing the folder, receiving
        live.file.write(b"still arriving")
        os.utime(live.path, (old, old))  # a slow upload: its age does not matter, its lock does
        with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)):
            pass
        assert live.path.exists()
    assert not stale.exists() and not young.exists() and not leftover.exists()
    assert not live.path.exists()  # removed by its receiver once done


def test_a_part_file_is_locked_from_creation_to_the_end_of_its_block(tmp_path):
    with storage.receiving(tmp_path) as part:
        assert not storage.remove_if_abandoned(part.path)
        moved = tmp_path / "stored"
        part.path.replace(moved)  # stored: the lock goes with the file
    assert list(tmp_path.glob("*.part")) == [] and moved.exists()
    lone = tmp_path / "lone.part"
    lone.write_bytes(b"x")
    assert storage.remove_if_abandoned(lone) and not lone.exists()


@pytest.mark.parametrize("database_url", [None])
def test_huge_offsets_and_bodies_are_4xx(client):
    headers = sign_up(client, "hygiene@example.com")
    assert client.get("/api/videos", headers=headers, params={"skip": 2**63}).status_code == 422
    big = {"email": "x@example.com", "password": "y" * 200_000}
    assert client.post("/api/auth/register", json=big).status_code == 413


def _multipart(size: int) -> dict[str, object]:
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\n'.encode()
        + b"x" * size
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return {
        "content": body,
        "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    }


@pytest.mark.parametrize("database_url", [None])
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/auth/register"), ("POST", "/api/auth/login"), ("PUT", "/api/videos")],
)
def test_a_large_body_declared_multipart_is_refused_off_the_upload_route(client, method, path):
    response = client.request(method, path, **_multipart(2_000_000))  # type: ignore[arg-type]
    assert response.status_code == 413, response.status_code
    assert len(response.content) < 1000


@pytest.mark.parametrize("database_url", [None])
def test_a_validation_error_quotes_only_the_start_of_the_input(client):
    response = client.post(
        "/api/auth/register", json={"email": "x" * 50_000, "password": "p" * 300}
    )
    assert response.status_code == 422
    assert len(response.content) < 2000, len(response.content)
    fields = {tuple(error["loc"]): error for error in response.json()["detail"]}
    assert fields[("body", "email")]["input"].startswith('"xxx')
    assert fields[("body", "email")]["input"].endswith("(cut)")
    small = client.post("/api/auth/register", json={"email": "x", "password": "short"})
    assert {error["input"] for error in small.json()["detail"]} == {"x", "short"}
