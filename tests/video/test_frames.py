"""Frame sampling: uniform over the whole duration, every container, rotation, VFR."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from deepverify.video.frames import probe_video, sample_frames, select_indices
from tests.videos import frame_number_of, make_video

CONTAINERS = [
    ("clip.mp4", "libx264", None),
    ("clip.mov", "libx264", None),
    ("clip.mkv", "libx264", None),
    ("vp8.webm", "libvpx", None),
    ("vp9.webm", "libvpx-vp9", None),
    ("clip.avi", "mpeg4", None),
    ("clip.gif", "gif", None),
]


def _expected_indices(count: int, num: int) -> list[int]:
    """Frame on screen at the centre of each of ``num`` slices of a constant-rate clip."""
    return [int((k + 0.5) * count / num) for k in range(num)]


@pytest.mark.parametrize(("name", "codec", "container"), CONTAINERS)
def test_each_container_decodes_uniform_samples(
    tmp_path: Path, name: str, codec: str, container: str | None
) -> None:
    clip = make_video(tmp_path / name, codec=codec, container=container, fps=10, seconds=6)
    info, frames = sample_frames(clip, 8)
    assert info.frame_count == 60
    assert info.duration_s == pytest.approx(6.0, abs=0.11)
    assert (info.width, info.height) == (64, 48)
    expected = _expected_indices(60, 8)
    assert [f.index for f in frames] == expected
    # The pixels really are those frames (each frame carries its number).
    assert [frame_number_of(f.image) for f in frames] == expected
    assert [f.timestamp for f in frames] == pytest.approx([i / 10 for i in expected], abs=1e-3)
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)


def test_samples_span_whole_duration_not_first_frames(real_clip: Path) -> None:
    info, frames = sample_frames(real_clip, 8)
    assert info.frame_count == 78
    assert [f.index for f in frames] == _expected_indices(78, 8)
    assert frames[-1].timestamp > 0.85 * info.duration_s
    assert frames[0].image.shape == (512, 512, 3)


def test_fewer_frames_than_requested_gives_every_frame(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "short.mp4", fps=10, seconds=0.5)
    info, frames = sample_frames(clip, 32)
    assert info.frame_count == 5
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [frame_number_of(f.image) for f in frames] == [0, 1, 2, 3, 4]


def test_variable_frame_rate_is_sampled_by_time(tmp_path: Path) -> None:
    # 2 s at 30 fps, then 2 s at 5 fps: sampling by index would crowd into the first half.
    times = [i / 30 for i in range(60)] + [2 + i / 5 for i in range(10)]
    clip = make_video(tmp_path / "vfr.mp4", timestamps=times)
    info, frames = sample_frames(clip, 8)
    assert info.frame_count == 70
    stamps = [f.timestamp for f in frames]
    assert sum(t >= 2.0 for t in stamps) == 4
    for k, stamp in enumerate(stamps):
        target = (k + 0.5) * info.duration_s / 8
        assert stamp <= target + 1e-6
        assert target - stamp < 0.2 + 1e-6  # the frame on screen at the target time
    assert [frame_number_of(f.image) for f in frames] == [f.index for f in frames]


def _patch_mp4_durations(path: Path, factor: float) -> None:
    """Rewrite the mvhd/tkhd/mdhd header durations (version 0 boxes) to lie."""
    data = bytearray(path.read_bytes())
    offsets = {b"mvhd": 16, b"tkhd": 20, b"mdhd": 16}  # from the box type to its duration field
    for box, offset in offsets.items():
        at = data.find(box)
        assert at > 0 and data[at + 4] == 0, f"{box!r} missing or not version 0"
        field = at + 4 + offset
        (value,) = struct.unpack(">I", data[field : field + 4])
        data[field : field + 4] = struct.pack(">I", max(1, int(value * factor)))
    path.write_bytes(bytes(data))


def test_wrong_header_duration_is_ignored(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "liar.mp4", fps=10, seconds=4)
    _patch_mp4_durations(clip, 0.1)  # the header now claims 0.4 s
    info, frames = sample_frames(clip, 4)
    assert info.duration_s == pytest.approx(4.0, abs=0.11)
    assert [f.index for f in frames] == _expected_indices(40, 4)
    assert [frame_number_of(f.image) for f in frames] == _expected_indices(40, 4)


@pytest.mark.parametrize(
    ("rotation", "upright_shape"), [(90, (64, 32)), (-90, (64, 32)), (180, (32, 64))]
)
def test_rotation_metadata_gives_upright_frames(
    tmp_path: Path, rotation: int, upright_shape: tuple[int, int]
) -> None:
    plain = make_video(tmp_path / "plain.mp4", width=64, height=32, seconds=0.3)
    rotated = make_video(tmp_path / "rot.mp4", width=64, height=32, seconds=0.3, rotation=rotation)
    _, (reference, *_) = sample_frames(plain, 1)
    info, (frame, *_) = sample_frames(rotated, 1)
    assert info.rotation == rotation % 360
    assert (info.height, info.width) == upright_shape
    assert frame.image.shape[:2] == upright_shape
    expected = np.rot90(reference.image, k=(rotation % 360) // 90)
    assert np.abs(frame.image.astype(int) - expected).mean() < 3


def test_portrait_clip_stays_portrait(portrait_clip: Path) -> None:
    # This DFDC clip stores portrait pixels directly (no rotation metadata).
    info = probe_video(portrait_clip)
    assert (info.width, info.height, info.rotation) == (1080, 1920, 0)
    assert info.duration_s == pytest.approx(10.0, abs=0.1)


def test_probe_matches_sampling(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "p.mkv", fps=25, seconds=2, rotation=90)
    info = probe_video(clip)
    assert (info.frame_count, info.fps, info.rotation) == (50, pytest.approx(25.0), 90)
    assert info == sample_frames(clip, 4)[0]


def test_select_indices_distinct_and_sorted() -> None:
    # One frame held for most of the clip must not be picked twice.
    times = [0.0, 0.1, 0.2, 0.3, 5.0, 5.1, 5.2, 5.3, 5.4, 5.5]
    picks = select_indices(times, 5.6, 6)
    assert picks == sorted(set(picks)) and len(picks) == 6
    assert select_indices([0.0, 1.0], 2.0, 5) == [0, 1]
