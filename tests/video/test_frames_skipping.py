"""Skipping unselected non-reference frames changes no selected frame, on the shared clips.

FFmpeg decodes a frame it is told to skip only when other frames refer to it; these tests check
that the frames the pipeline keeps are bit-identical to a decode of every frame. Each clip is
decoded once without skipping (for the frames both selections pick) and once per selection with
skipping. The default run checks one clip of each kind in ``../shared/data`` (container, codec,
profile, pixel format, with or without B-frames: H.264 4:2:0 and 4:4:4, MPEG-1, MPEG-4 Part 2);
the slow run checks every other clip and that the default clips still cover every kind.
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
NUM_FRAMES = (32, 7)
# The cheapest clip to decode of each kind (see _kind), relative to the shared data folder.
DEFAULT_CLIPS = (
    "eval/fake/cyshih_fake.mp4",  # H.264 High 4:4:4 Predictive, B-frames
    "real/liveportrait_d20.mp4",  # H.264 Main, B-frames
    "train/real/everyday_vinay_phone_girl.mp4",  # H.264 High, no B-frames
    "train/real/grid_lipnet_bbaf2n.mpg",  # MPEG-1 in an MPEG program stream
    "train/real/wild_akash_video_8s.mp4",  # H.264 Main, no B-frames
    "train/real/wild_iplap_template_129.mp4",  # MPEG-4 Part 2 Simple Profile
    "train/real/wild_videoretalking_face_1.mp4",  # H.264 Constrained Baseline
    "train_wild/fake/sdanim_example.mp4",  # H.264 High, B-frames
)

Kind = tuple[str, str, str | None, str, bool]


def _clips() -> list[Path]:
    root = _shared_data()
    return sorted(p for p in root.rglob("*") if p.suffix in VIDEO_SUFFIXES)


def _name(clip: Path) -> str:
    return clip.relative_to(_shared_data()).as_posix()


def _kind(clip: Path) -> Kind:
    """Container, codec, profile, pixel format and whether frames are reordered (B-frames)."""
    with open_video(clip) as (container, video):
        next(container.decode(video))  # the decoder knows the stream's shape after a frame
        context = video.codec_context
        return (
            container.format.name,
            context.name,
            context.profile,
            context.format.name,
            bool(context.has_b_frames),
        )


def _hashes(stream: FrameStream) -> list[tuple[int, str]]:
    return [(f.index, hashlib.sha256(f.image.tobytes()).hexdigest()) for f in stream]


def _check_skipping(clip: Path) -> None:
    skipping = {n: FrameStream(clip, n) for n in NUM_FRAMES}
    reference = FrameStream(clip, NUM_FRAMES[0], skip_unselected=False)
    assert reference.wanted == skipping[NUM_FRAMES[0]].wanted, "skipping changed the selection"
    reference.wanted = sorted({i for stream in skipping.values() for i in stream.wanted})
    every = dict(_hashes(reference))
    for n, stream in skipping.items():
        expected = [(i, every[i]) for i in stream.wanted if i in every]
        assert sorted(_hashes(stream)) == expected, f"{n} frames differ when skipping"


@pytest.mark.parametrize("clip", DEFAULT_CLIPS)
def test_selected_frames_are_the_same_with_and_without_skipping(clip: str) -> None:
    _check_skipping(_shared_data() / clip)


@pytest.mark.slow
@pytest.mark.parametrize("clip", [c for c in _clips() if _name(c) not in DEFAULT_CLIPS], ids=_name)
def test_selected_frames_are_the_same_on_every_other_clip(clip: Path) -> None:
    _check_skipping(clip)


@pytest.mark.slow
def test_default_clips_cover_every_kind() -> None:
    """The default run's clips stay one of each kind that the shared data holds."""
    default = {_kind(_shared_data() / clip) for clip in DEFAULT_CLIPS}
    assert len(default) == len(DEFAULT_CLIPS), "two default clips are of one kind"
    missing = {_kind(clip) for clip in _clips()} - default
    assert not missing, f"no default clip of kind {sorted(missing, key=str)}"


def test_skipping_decodes_fewer_frames(shared_data: Path) -> None:
    """The check above is not vacuous: on a B-frame H.264 clip, frames really are skipped.

    A 480x480 clip: the 1080p one used before showed the same ratio (155 of 300 frames decoded,
    here 91 of 175) at ten times the cost.
    """
    clip = shared_data / "real" / "liveportrait_d20.mp4"
    stream = FrameStream(clip, 8)
    ticks = {stream._timeline.ticks[i] for i in stream.wanted}
    with open_video(clip) as (container, video):
        assert video.codec_context.name in SKIPPABLE_CODECS
        skipped = sum(1 for _ in decoded_frames(clip, container, video, keep=ticks))
    with open_video(clip) as (container, video):
        every = sum(1 for _ in decoded_frames(clip, container, video))
    assert skipped < 0.8 * every
    assert len(_hashes(FrameStream(clip, 8))) == 8
