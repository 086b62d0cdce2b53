"""Issue 23, attack 1: a video of three frames and a flood of tiny audio packets.

Every stage that reads a container (the upload check, the provenance reader, frame selection)
counts the packets of every stream against its budget, stops at its time limit and stays within
a memory bound, instead of wading through packets it does not analyse where no limit sees them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deepverify.errors import InvalidVideoError
from deepverify.provenance.container import read_container_metadata
from deepverify.service.core.settings import Settings
from deepverify.service.core.uploads import MediaLimits, UnsupportedVideoError, probe_upload
from deepverify.video.frames import probe_video, sample_frames
from deepverify.video.io import PACKETS_PER_FRAME
from tests.service.bombs import make_packet_bomb, memory_growth_mb

AUDIO_PACKETS = 200_000


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_packet_bomb(
        tmp_path_factory.mktemp("packets") / "bomb.mkv", audio_packets=AUDIO_PACKETS
    )


def test_the_bomb_is_small_and_holds_three_frames(bomb):
    assert bomb.stat().st_size < 2_000_000
    assert probe_video(bomb, max_frames=AUDIO_PACKETS).frame_count == 3


def test_the_upload_check_counts_the_packets_of_every_stream(bomb):
    limits = MediaLimits.from_settings(Settings(max_video_frames=18_000))
    assert AUDIO_PACKETS > 18_000 * PACKETS_PER_FRAME
    with pytest.raises(UnsupportedVideoError, match="more than 144000 packets"):
        probe_upload(bomb, limits=limits)


def test_the_check_stops_at_its_time_limit_among_audio_packets(bomb):
    with pytest.raises(InvalidVideoError, match=r"took over 0\.02 s"):
        probe_video(bomb, max_frames=AUDIO_PACKETS, max_seconds=0.02)


def test_frame_selection_calls_its_stop_hook_for_every_packet(bomb):
    calls = 0

    def check() -> None:
        nonlocal calls
        calls += 1
        if calls > 10_000:
            raise TimeoutError("the job's budget is spent")

    with pytest.raises(TimeoutError, match="the job's budget is spent"):
        sample_frames(bomb, 4, check=check)


def test_the_provenance_reader_is_bounded_in_time(bomb):
    assert read_container_metadata(bomb).status == "read"
    # A budget no opening meets (opening this file can take under a millisecond).
    assert read_container_metadata(bomb, max_seconds=1e-6).status == "unreadable"


@pytest.mark.slow
def test_opening_the_bomb_stays_within_a_memory_bound(tmp_path):
    # A million one-byte packets (7 MB): opening buffered every one (+506 MB; +141 MB now).
    big = make_packet_bomb(tmp_path / "big.mkv", audio_packets=1_000_000)
    grew = memory_growth_mb(
        big,
        setup="from deepverify.video.frames import probe_video",
        work="probe_video(path, max_frames=10**6, max_seconds=60)",
    )
    assert grew < 200, f"reading the bomb grew the process by {grew:.0f} MB"
