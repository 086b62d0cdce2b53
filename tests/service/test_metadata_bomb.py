"""Issue 23: a video whose metadata holds one huge tag.

FFmpeg and PyAV copy every tag whole when a file is opened, so a 50 MB comment cost about 200 MB
of memory in each reader. Tag boxes over the bound are refused before anything opens the file:
the upload check answers 4xx with the reason, provenance says "unreadable" with it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deepverify.provenance import read_provenance
from deepverify.provenance.container import MAX_VALUE, read_container_metadata
from deepverify.service.core.settings import Settings
from deepverify.service.core.uploads import MediaLimits, UnsupportedVideoError, probe_upload
from deepverify.service.main import create_app
from deepverify.video.isobmff import MAX_TAG_BOX_BYTES, oversized_tags
from tests.service.bombs import make_tag_bomb, memory_growth_mb
from tests.service.conftest import sign_up, upload

OVER = MAX_TAG_BOX_BYTES + 1024


@pytest.fixture(scope="module")
def tag_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tag_bomb(tmp_path_factory.mktemp("tags") / "tags.mp4", tag_bytes=OVER)


@pytest.mark.parametrize(
    ("on", "box"), [("container", "moov/udta"), ("stream", "moov/trak/mdia/hdlr")]
)
def test_the_box_holding_a_huge_tag_is_found_without_opening_the_file(tmp_path, on, box):
    key = "comment" if on == "container" else "handler_name"
    clip = make_tag_bomb(tmp_path / "clip.mp4", tag_bytes=OVER, on=on, key=key)
    with clip.open("rb") as handle:
        found = oversized_tags(handle)
    assert found is not None and found[0] == box and OVER < found[1] < OVER + 1024
    small = make_tag_bomb(tmp_path / "small.mp4", tag_bytes=1000, on=on, key=key)
    with small.open("rb") as handle:
        assert oversized_tags(handle) is None


def test_the_upload_check_refuses_it_with_the_reason(tag_bomb):
    with pytest.raises(UnsupportedVideoError, match=r"metadata \(moov/udta box\) is 4\.0 MiB"):
        probe_upload(tag_bomb, limits=MediaLimits.from_settings(Settings()))


def test_the_upload_is_refused_and_nothing_is_analysed(make_settings, fake_analyzer, tag_bomb):
    settings = make_settings()
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        headers = sign_up(client, "tags@example.com")
        response = upload(client, headers, tag_bomb.read_bytes(), name="holiday.mp4")
        assert response.status_code == 415
        detail = response.json()["detail"]
        assert detail.startswith("holiday.mp4: its metadata (moov/udta box)"), detail
        assert fake_analyzer.calls == []


def test_provenance_says_unreadable_with_a_one_line_reason(tag_bomb):
    report = read_provenance(tag_bomb, trust_anchors="")
    assert report.container.status == "unreadable"
    assert report.container.reason and "metadata (moov/udta box)" in report.container.reason
    assert "\n" not in report.container.reason
    assert report.content_credentials.status == "absent"


def test_tags_under_the_bound_are_read_and_cut_short(tmp_path):
    key = "com.apple.quicktime.location." + "x" * 1000
    clip = make_tag_bomb(tmp_path / "long.mp4", tag_bytes=100_000, key=key)
    meta = read_container_metadata(clip)
    assert meta.status == "read"
    [place] = meta.location
    assert len(place.key) == MAX_VALUE and len(place.value) == MAX_VALUE


@pytest.mark.slow
def test_a_50_mb_comment_costs_no_memory_to_refuse(tmp_path):
    # Before the bound: 194 MB more for the two readers, and the upload check accepted it.
    clip = make_tag_bomb(tmp_path / "big.mp4", tag_bytes=50_000_000)
    grew = memory_growth_mb(
        clip,
        setup=(
            "from deepverify.service.core.uploads import MediaLimits, probe_upload\n"
            "from deepverify.service.core.settings import Settings\n"
            "from deepverify.provenance.container import read_container_metadata\n"
            "import deepverify.video.frames  # PyAV and FFmpeg loaded before the baseline"
        ),
        work=(
            "try:\n"
            "    probe_upload(path, limits=MediaLimits.from_settings(Settings()))\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, file=sys.stderr)\n"
            "read_container_metadata(path)"
        ),
    )
    assert grew < 20, f"reading the file grew the process by {grew:.0f} MB"
