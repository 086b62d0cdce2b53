"""The storage layout: one place for every path, and deletion that touches one video only."""

from __future__ import annotations

import pytest

from deepverify.service.core import storage
from tests.service.conftest import sign_up, upload, wait_for


@pytest.mark.parametrize("database_url", [None])
def test_deleting_a_videos_files_leaves_every_other_video_alone(settings):
    storage.ensure_dirs(settings)
    files = {}
    for video_id, name in (("a1", "stored-a"), ("b2", "stored-b")):
        upload = storage.upload_path(settings, name)
        upload.write_bytes(b"video")
        result = storage.result_dir(settings, video_id)
        (result / "heatmaps").mkdir(parents=True)
        work = storage.work_dir(settings, video_id, "worker-1")
        work.mkdir()
        partial = storage.results_dir(settings) / f".{video_id}.3f2a.tmp"  # files.atomic_target's
        partial.mkdir()
        files[video_id] = [upload, result, work, partial]
    storage.remove_video_files(settings, video_id="a1", storage_name="stored-a")
    assert not any(path.exists() for path in files["a1"])
    assert all(path.exists() for path in files["b2"])
    assert sorted(p.name for p in storage.results_dir(settings).iterdir()) == [
        ".b2.3f2a.tmp", "b2", "b2.worker-1.tmp",
    ]  # fmt: skip


@pytest.mark.parametrize("database_url", [None])
def test_everything_lives_under_home_in_private_folders(settings):
    storage.ensure_dirs(settings)
    for folder in (
        storage.uploads_dir(settings), storage.incoming_dir(settings),
        storage.results_dir(settings),
    ):  # fmt: skip
        assert folder.is_relative_to(settings.home) and folder.stat().st_mode & 0o777 == 0o700
    assert storage.upload_path(settings, "x").parent == storage.uploads_dir(settings)
    assert storage.work_dir(settings, "v", "w").parent == storage.results_dir(settings)


@pytest.mark.parametrize("database_url", [None])
def test_result_files_are_private_like_uploads(client, settings, clip_bytes):
    headers = sign_up(client, "private@example.com")
    video_id = upload(client, headers, clip_bytes(0)).json()["id"]
    assert wait_for(client, headers, video_id)["status"] == "done"
    result = storage.result_dir(settings, video_id)
    modes = {p.relative_to(result).as_posix(): p.stat().st_mode & 0o777 for p in result.rglob("*")}
    assert modes and all(mode == (0o700 if (result / rel).is_dir() else 0o600)
                         for rel, mode in modes.items()), modes  # fmt: skip
