"""Every kind of bad input gives a one-line InvalidVideoError, quickly, leaving nothing behind."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import av
import numpy as np
import pytest

from deepverify.errors import InvalidVideoError
from deepverify.video.frames import MAX_SIDE, probe_video, sample_frames
from tests.videos import frame_number_of, make_video


def _refused(path: Path, match: str) -> str:
    for call in (sample_frames, probe_video):
        with pytest.raises(InvalidVideoError, match=match) as err:
            call(path)
    message = str(err.value)
    assert "\n" not in message and len(message) < 300
    return message


def _audio_frames(stream: av.AudioStream, container: av.container.OutputContainer) -> None:
    for i in range(10):
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate, frame.pts = 16000, i * 1024
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def test_missing_path(tmp_path: Path) -> None:
    _refused(tmp_path / "nope.mp4", "no such file")


def test_directory(tmp_path: Path) -> None:
    _refused(tmp_path, "is a directory")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    _refused(tmp_path / "empty.mp4", "empty")


def test_random_bytes(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    (tmp_path / "noise.mp4").write_bytes(noise)
    _refused(tmp_path / "noise.mp4", "not a video FFmpeg can read")


def test_text_file(tmp_path: Path) -> None:
    (tmp_path / "notes.mov").write_text("not a video\n" * 200)
    _refused(tmp_path / "notes.mov", "not a video")


@pytest.mark.parametrize("name", ["messi5.jpg", "astronaut.png"])
def test_still_image(tmp_path: Path, shared_data: Path, name: str) -> None:
    _refused(shared_data / "images" / name, "a still image, not a video")
    disguised = tmp_path / "photo.mp4"  # the extension must not matter
    shutil.copy(shared_data / "images" / name, disguised)
    _refused(disguised, "a still image")


def test_single_frame_gif_is_a_still_image(tmp_path: Path) -> None:
    _refused(make_video(tmp_path / "one.gif", codec="gif", seconds=0.1), "a still image")


def test_audio_only(tmp_path: Path) -> None:
    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w", format="mp4") as out:
        _audio_frames(out.add_stream("aac", rate=16000), out)
    _refused(path, "audio only")


def test_video_track_without_frames(tmp_path: Path) -> None:
    path = tmp_path / "zero.mkv"
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        _audio_frames(out.add_stream("aac", rate=16000), out)
    _refused(path, "no frames")


def test_truncated_mp4_without_index(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "full.mp4", seconds=2)  # index (moov) at the end
    data = clip.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    _refused(tmp_path / "cut.mp4", "incomplete or truncated")


def _faststart_clip(path: Path, frames: int) -> bytes:
    """An mp4 with its index first (like a streamed download), random content so it is big."""
    rng = np.random.default_rng(1)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(frames):
            image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path.read_bytes()


def test_truncated_mp4_decodes_what_is_readable(tmp_path: Path) -> None:
    data = _faststart_clip(tmp_path / "fs.mp4", 30)
    (tmp_path / "half.mp4").write_bytes(data[: len(data) // 2])
    info, frames = sample_frames(tmp_path / "half.mp4", 8)
    assert 5 <= len(frames) <= 8
    assert 10 <= info.frame_count <= 20  # about half of the 30 frames
    assert frames[0].index == 0 or frames[0].timestamp < 0.3


def test_truncated_mp4_with_no_frame_data(tmp_path: Path) -> None:
    data = _faststart_clip(tmp_path / "fs.mp4", 30)
    (tmp_path / "head.mp4").write_bytes(data[: data.find(b"mdat") + 64])
    _refused(tmp_path / "head.mp4", "no frame could be decoded")


def test_absurd_dimensions_refused_from_header(tmp_path: Path) -> None:
    # 20000 px wide (tiny to encode): refused from the header, before any decoding.
    clip = make_video(
        tmp_path / "wide.webm", codec="libvpx-vp9", width=20000, height=16, seconds=0.2
    )
    started = time.monotonic()
    message = _refused(clip, f"exceed the {MAX_SIDE}-pixel limit")
    assert "20000x16" in message
    assert time.monotonic() - started < 2.0


def test_no_temp_files_left(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "ok.mp4", seconds=1)
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 1000)
    before = sorted(tmp_path.iterdir())
    sample_frames(clip, 4)
    with pytest.raises(InvalidVideoError, match=r"bad\.mp4: not a video FFmpeg can read"):
        sample_frames(tmp_path / "bad.mp4")
    assert sorted(tmp_path.iterdir()) == before


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    _refused(fifo, "not a regular file")


def test_num_frames_must_be_positive(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "ok.mp4", seconds=0.5)
    with pytest.raises(ValueError, match="num_frames must be >= 1, got 0"):
        sample_frames(clip, 0)
    _, frames = sample_frames(clip, 1)
    assert [frame_number_of(f.image) for f in frames] == [2]
