"""A file made of a great many empty boxes (ISO BMFF) or chunks (RIFF).

Each box is 8 bytes, so 800 KB holds 100,000 of them. The C2PA library's reading time grows with
the square of their number (100,000 boxes: about 110 s), and a walk in Python costs about a
microsecond a box. Content Credentials read "unreadable" with the reason past
:data:`~deepverify.provenance.credentials.MAX_BOXES`, without the library; opening the file as a
video refuses it past :data:`~deepverify.video.isobmff.MAX_BOXES` at one level.
"""

from __future__ import annotations

import math
from pathlib import Path

import c2pa
import pytest
from fastapi.testclient import TestClient

from deepverify.errors import InvalidVideoError
from deepverify.provenance import read_provenance
from deepverify.provenance.credentials import MAX_BOXES as C2PA_MAX_BOXES
from deepverify.provenance.credentials import MAX_CROWDING
from deepverify.service.main import create_app
from deepverify.video import isobmff
from deepverify.video.io import open_container
from tests.service.bombs import make_box_bomb, make_chunk_bomb, make_fragmented
from tests.service.conftest import sign_up, upload


@pytest.fixture
def no_c2pa(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every file handed to the C2PA library, which then finds no manifest."""
    handed: list[str] = []

    def try_create(path: str, **_: object) -> None:
        handed.append(path)

    monkeypatch.setattr(c2pa.Reader, "try_create", staticmethod(try_create))
    return handed


SIDE = math.isqrt(MAX_CROWDING)  # 20,000
CROWDED = f"the file holds more boxes side by side than the C2PA reader is given ({SIDE:,})"
TOO_MANY = "the file holds over 200,000 {}, more than the C2PA reader is given"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: make_box_bomb(p, boxes=SIDE + 1), CROWDED),
        (lambda p: make_box_bomb(p, boxes=SIDE + 1, inside=b"moov"), CROWDED),
        # 250 boxes of 1,000 each: crowded less than 20,000 side by side, but too many in all.
        (
            lambda p: make_box_bomb(p, boxes=1000, inside=b"moof", times=250),
            TOO_MANY.format("boxes"),
        ),
        (lambda p: make_chunk_bomb(p, chunks=C2PA_MAX_BOXES + 1), TOO_MANY.format("chunks")),
    ],
    ids=["top-level", "in-moov", "in-fragments", "riff"],
)
def test_credentials_of_a_box_bomb_are_unreadable_unread(tmp_path, no_c2pa, make, reason):
    # No suffix: the service stores uploads so, and the content decides.
    bomb = make(tmp_path / "0123456789abcdef")
    credentials = read_provenance(bomb, trust_anchors="").content_credentials
    assert credentials.status == "unreadable" and credentials.reason == reason
    assert no_c2pa == []


def test_a_fragmented_recording_is_still_read(tmp_path, no_c2pa):
    clip = make_fragmented(tmp_path / "fragments.mp4", frames=400)
    with clip.open("rb") as handle:
        found = isobmff.census(handle, handle.seek(0, 2), limit=C2PA_MAX_BOXES)
    assert found.total > 2000 and 800**2 < found.crowding < MAX_CROWDING
    found = read_provenance(clip, trust_anchors="")
    assert no_c2pa == [str(clip)] and found.content_credentials.status == "absent"
    assert found.container.status == "read"
    with open_container(clip) as container:
        assert container.streams.video[0].frames in (0, 400)


def test_opening_a_box_bomb_as_a_video_is_refused(tmp_path):
    bomb = make_box_bomb(tmp_path / "boxes.mp4", boxes=isobmff.MAX_BOXES + 1)
    with pytest.raises(InvalidVideoError, match=r"^boxes\.mp4: over 100,000 boxes at one level"):
        open_container(bomb)
    container = read_provenance(bomb, trust_anchors="").container
    assert container.status == "unreadable" and "over 100,000 boxes" in str(container.reason)


def test_the_upload_is_refused_and_nothing_is_analysed(make_settings, fake_analyzer, tmp_path):
    bomb = make_box_bomb(tmp_path / "boxes.mp4", boxes=isobmff.MAX_BOXES + 1)
    with TestClient(create_app(make_settings(), analyzer_factory=lambda: fake_analyzer)) as client:
        headers = sign_up(client, "boxes@example.com")
        response = upload(client, headers, bomb.read_bytes(), name="holiday.mp4")
        assert response.status_code == 415
        assert response.json()["detail"].startswith("holiday.mp4: over 100,000 boxes")
        assert fake_analyzer.calls == []


def test_the_census_counts_each_level_and_stops_at_its_limit(tmp_path: Path):
    bomb = make_box_bomb(tmp_path / "boxes.mp4", boxes=50, inside=b"moov", times=2)
    with bomb.open("rb") as handle:
        end = handle.seek(0, 2)
        # The top: the ftyp and two moov; in each moov, 50 boxes.
        assert isobmff.census(handle, end, limit=1000) == isobmff.Census(103, 3**2 + 2 * 50**2)
        assert isobmff.census(handle, end, limit=10).total == 11
        first_moov = 16 + 8  # after the ftyp and the moov's header: its 50 boxes
        with pytest.raises(isobmff.TooManyBoxesError, match="over 10 boxes at one level"):
            list(isobmff.boxes(handle, first_moov, first_moov + 50 * 8, limit=10))
        assert len(list(isobmff.boxes(handle, first_moov, first_moov + 50 * 8, limit=50))) == 50
