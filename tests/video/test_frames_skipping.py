"""Skipping unselected non-reference frames changes no selected frame, on every shared clip.

FFmpeg decodes a frame it is told to skip only when other frames refer to it; these tests check
that the frames the pipeline keeps are bit-identical to a decode of every frame, on each video
in ``../shared/data`` (H.264 4:2:0 and 4:4:4, MPEG-1, MPEG-2, MPEG-4 Part 2).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from deepverify.video.frames import SKIPPABLE_CODECS, FrameStream
from deepverify.video.frames import _decoded as decoded_frames
from deepverify.video.frames import _open_video as open_video
from tests.conftest import _shared_data

VIDEO_SUFFIXES = (".mp4", ".mpg")


def _clips() -> list[Path]:
    root = _shared_data()
    return sorted(p for p in root.rglob("*") if p.suffix in VIDEO_SUFFIXES)


def _selected(clip: Path, num_frames: int, *, skip: bool) -> list[tuple[int, str]]:
    stream = FrameStream(clip, num_frames, skip_unselected=skip)
    return [(f.index, hashlib.sha256(f.image.tobytes()).hexdigest()) for f in stream]


@pytest.mark.slow
@pytest.mark.parametrize("clip", _clips(), ids=lambda p: str(p.relative_to(_shared_data())))
def test_selected_frames_are_the_same_with_and_without_skipping(clip: Path) -> None:
    for num_frames in (32, 7):
        assert _selected(clip, num_frames, skip=True) == _selected(clip, num_frames, skip=False)


def test_skipping_decodes_fewer_frames(shared_data: Path) -> None:
    """The check above is not vacuous: on a B-frame H.264 clip, frames really are skipped."""
    clip = shared_data / "eval" / "real" / "dfdc_lynaeydofd.mp4"
    stream = FrameStream(clip, 8)
    ticks = {stream._timeline.ticks[i] for i in stream.wanted}
    with open_video(clip) as (container, video):
        assert video.codec_context.name in SKIPPABLE_CODECS
        skipped = sum(1 for _ in decoded_frames(clip, container, video, keep=ticks))
    with open_video(clip) as (container, video):
        every = sum(1 for _ in decoded_frames(clip, container, video))
    assert skipped < 0.8 * every
    assert len(_selected(clip, 8, skip=True)) == 8
