"""A small file of hundreds of video streams.

FFmpeg starts a decoder for every stream it identifies on opening: a 285 KB Matroska file of 300
tiny H.264 streams grew opening by 240 MB, and a 3 MB file of 1,000 made a scan peak at 1.3 GB.
FFmpeg now creates at most :data:`~deepverify.video.io.MAX_STREAMS`: Matroska keeps the first
ones, MP4 is refused with a one-line reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deepverify.errors import InvalidVideoError
from deepverify.provenance import read_provenance
from deepverify.service.main import create_app
from deepverify.video.io import MAX_STREAMS, open_container
from tests.service.bombs import make_stream_bomb, memory_growth_mb
from tests.service.conftest import sign_up, upload

STREAMS = 300


@pytest.fixture(scope="module")
def mkv_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_stream_bomb(tmp_path_factory.mktemp("mkv") / "streams.mkv", streams=STREAMS)


@pytest.fixture(scope="module")
def mp4_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_stream_bomb(tmp_path_factory.mktemp("mp4") / "streams.mp4", streams=STREAMS)


def test_opening_matroska_keeps_the_first_streams_and_little_memory(mkv_bomb):
    with open_container(mkv_bomb) as container:
        assert len(container.streams) == MAX_STREAMS
    grew = memory_growth_mb(
        mkv_bomb,
        setup="from deepverify.video.io import open_container",
        work="with open_container(path):\n    pass",
    )
    assert grew < 100, grew  # 240 MB with FFmpeg's default of 1,000 streams


def test_an_mp4_of_too_many_streams_is_refused_in_one_line(mp4_bomb):
    with pytest.raises(InvalidVideoError, match=r"^streams\.mp4: .*over 64 streams"):
        open_container(mp4_bomb)
    container = read_provenance(mp4_bomb, trust_anchors="").container
    assert container.status == "unreadable" and "over 64 streams" in str(container.reason)


def test_the_upload_is_refused_and_nothing_is_analysed(make_settings, fake_analyzer, mp4_bomb):
    with TestClient(create_app(make_settings(), analyzer_factory=lambda: fake_analyzer)) as client:
        headers = sign_up(client, "streams@example.com")
        response = upload(client, headers, mp4_bomb.read_bytes(), name="holiday.mp4")
        assert response.status_code == 415
        assert "over 64 streams" in response.json()["detail"]
        assert fake_analyzer.calls == []
