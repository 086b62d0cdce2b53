"""Video decoding with PyAV: probe a file and sample frames uniformly over its whole duration.

Two passes over the file, both streaming:

1. **Demux** (no decoding): read every video packet's timestamp. This measures the real duration
   and frame count (headers can be missing or wrong, frame rates can vary) and decides which
   frames to keep: the frame shown at the centre of each of ``num_frames`` equal time slices.
2. **Decode** on one thread; only the selected frames are converted to RGB arrays, so memory holds
   at most the sampled frames and the cost of unselected frames is the decode itself. For the
   codecs in :data:`SKIPPABLE_CODECS`, unselected frames that no other frame refers to (most
   B-frames) are parsed but not reconstructed; since nothing refers to them, every picture that
   is decoded is bit-identical (``tests/video/test_frames_skipping.py`` checks every clip in
   ``../shared/data``).

Rotation metadata (the display matrix phones write for portrait video) is applied, so frames come
out upright. Every way a file can fail to be a usable video raises :class:`InvalidVideoError`.
Opening a file, the demux pass and packet decoding live in :mod:`deepverify.video.io`; this module
chooses the frames and turns the selected pictures into upright RGB :class:`Frame` arrays.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import av.container
import av.video.stream
import numpy as np

from deepverify.defaults import DEFAULT_NUM_FRAMES
from deepverify.errors import InvalidVideoError
from deepverify.video.io import (
    MAX_PACKETS,
    MAX_SCAN_SECONDS,
    _decoded,
    _open_video,
    _rotation,
    _scan,
    _Timeline,
    _too_slow,
    upright_rgb,
)
from deepverify.video.io import MAX_SIDE as MAX_SIDE  # re-exported: the accepted frame size
from deepverify.video.io import Check as Check  # re-exported: the stage's stop hook

logger = logging.getLogger(__name__)

SKIPPABLE_CODECS = frozenset({"h264", "mpeg1video", "mpeg2video"})
"""Decoders whose non-reference frames are skipped when not selected (FFmpeg's
``skip_frame=nonref``, set packet by packet): the codecs of the clips that prove it harmless."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video is, measured from its packets rather than trusted from its header.

    Attributes:
        container: FFmpeg demuxer name, e.g. ``"mov,mp4,m4a,3gp,3g2,mj2"``.
        codec: Decoder name, e.g. ``"h264"``.
        width: Display width in pixels, after rotation.
        height: Display height in pixels, after rotation.
        rotation: Counter-clockwise degrees applied to decoded pictures to make them upright:
            0, 90, 180 or 270.
        duration_s: Span of the packet timestamps plus the last frame's duration, in seconds.
        frame_count: Number of video packets found by demuxing.
        fps: Average frame rate, ``frame_count / duration_s``.
    """

    container: str
    codec: str
    width: int
    height: int
    rotation: int
    duration_s: float
    frame_count: int
    fps: float


@dataclass(frozen=True)
class Frame:
    """One decoded, upright frame.

    Attributes:
        index: Index of the frame in the stream, 0-based, in presentation (timestamp) order.
        timestamp: Seconds from the start of the video stream.
        image: RGB ``uint8`` array ``(H, W, 3)``, rotation applied, full resolution.
    """

    index: int
    timestamp: float
    image: np.ndarray


def probe_video(
    path: Path, *, max_frames: int = MAX_PACKETS, max_seconds: float = MAX_SCAN_SECONDS
) -> VideoInfo:
    """Describe a video without decoding more than its first frame.

    Args:
        path: The video file.
        max_frames: Refuse the file as soon as it has more video packets (frames) than this,
            or more than :data:`~deepverify.video.io.PACKETS_PER_FRAME` times as many packets
            of all streams, without reading the rest: bounds the probe of a file packed with
            tiny frames or tiny audio packets.
        max_seconds: Wall-clock budget of opening the file, of the packet scan (packets of
            every stream counted), and of decoding the first frame, each.

    Returns:
        Its :class:`VideoInfo`, duration and frame count measured from the packets.

    Raises:
        InvalidVideoError: The file is missing, empty, not a video, unusable, or over a limit.
    """
    path = Path(path)
    deadline = _deadline(path, max_seconds)
    with _open_video(path, max_seconds=max_seconds) as (container, stream):
        timeline = _scan(path, container, stream, max_packets=max_frames, max_seconds=max_seconds)
    with _open_video(path, max_seconds=max_seconds) as (container, stream):
        for frame in _decoded(path, container, stream, check=deadline):
            return _info(container, stream, timeline, _rotation(frame), (frame.width, frame.height))
    raise InvalidVideoError(f"{path.name}: no frame could be decoded; the file is corrupt")


def _deadline(path: Path, max_seconds: float) -> Check:
    """A stop hook that refuses ``path`` once ``max_seconds`` have passed since it was made."""
    started = time.monotonic()

    def check() -> None:
        if time.monotonic() - started > max_seconds:
            raise InvalidVideoError(_too_slow(path, max_seconds))

    return check


def sample_frames(
    path: Path, num_frames: int = DEFAULT_NUM_FRAMES, *, check: Check | None = None
) -> tuple[VideoInfo, list[Frame]]:
    """Decode ``num_frames`` frames spread uniformly over the whole video.

    The targets are the centres of ``num_frames`` equal time slices of the measured duration;
    each picks the frame on screen at that time (distinct frames, in order). A video with fewer
    frames gives every frame once. :class:`FrameStream` gives the same frames one at a time.

    Args:
        path: The video file.
        num_frames: How many frames to return at most (>= 1).
        check: Called for every packet read and every frame decoded; it stops the work by
            raising (a cancelled job, a spent time budget).

    Returns:
        The video's :class:`VideoInfo` and the sampled frames in time order.

    Raises:
        InvalidVideoError: The file is missing, empty, not a video, or no frame decodes.
        ValueError: ``num_frames`` is below 1.
    """
    stream = FrameStream(path, num_frames, check=check)
    frames = sorted(stream, key=lambda f: f.index)
    return stream.info, frames


class FrameStream:
    """The sampled frames of a video, decoded one at a time (see :func:`sample_frames`).

    Creating it runs the demux pass (so a file that is not a video fails here); iterating decodes
    and yields the selected frames, so only the frame in hand is held in memory. :attr:`info` is
    available once iteration has finished.
    """

    def __init__(
        self,
        path: Path,
        num_frames: int = DEFAULT_NUM_FRAMES,
        *,
        check: Check | None = None,
        skip_unselected: bool = True,
    ) -> None:
        """Measure ``path`` and choose its ``num_frames`` frames.

        ``skip_unselected=False`` decodes every frame (the reference the skipping is tested
        against).

        Raises:
            InvalidVideoError: The file is missing, empty, not a video, or unusable.
            ValueError: ``num_frames`` is below 1.
        """
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        self.path = Path(path)
        with _open_video(self.path) as (container, stream):
            self._timeline = _scan(self.path, container, stream, check=check)
        self.wanted = select_indices(self._timeline.times, self._timeline.duration_s, num_frames)
        self._info: VideoInfo | None = None
        self._check = check
        self._skip_unselected = skip_unselected

    @property
    def info(self) -> VideoInfo:
        """What the video is; raises ``RuntimeError`` before a frame was decoded."""
        if self._info is None:
            raise RuntimeError("FrameStream.info is known only after iterating")
        return self._info

    def __iter__(self) -> Generator[Frame, None, None]:
        """Decode and yield the selected frames, normally in time order.

        Raises:
            InvalidVideoError: No frame could be decoded.
        """
        path, timeline = self.path, self._timeline
        wanted_set = set(self.wanted)
        index_of = {tick: i for i, tick in enumerate(timeline.ticks)} if timeline.timed else {}
        times = timeline.times
        rotation, size = 0, None
        yielded = 0
        with _open_video(path) as (container, stream):
            # One decoding thread: the pipeline already runs decoding, detection and the network
            # side by side on the cores, and FFmpeg's frame threads only add their own overhead
            # (measured on the 10 s and 5-minute 1080p bench clips: 7 % and 25 % fewer CPU
            # seconds, the same or shorter wall time). The frames are the same either way.
            stream.thread_count = 1
            # Skipping needs timestamps: packets are matched to the selected frames by timestamp
            # (ranks would no longer count the frames that were skipped).
            skipping = (
                self._skip_unselected
                and timeline.timed
                and stream.codec_context.name in SKIPPABLE_CODECS
            )
            keep = {timeline.ticks[i] for i in self.wanted} if skipping else None
            decoded = _decoded(path, container, stream, keep=keep, check=self._check)
            for ordinal, frame in enumerate(decoded):
                if self._check is not None:
                    self._check()
                if size is None:
                    rotation, size = _rotation(frame), (frame.width, frame.height)
                    self._info = _info(container, stream, timeline, rotation, size)
                if frame.pts is not None:
                    index = index_of.get(frame.pts, -1 if skipping else ordinal)
                else:  # ranks count the skipped frames only when nothing is skipped
                    index = -1 if skipping else ordinal
                if index not in wanted_set:
                    continue
                wanted_set.discard(index)  # a duplicated timestamp must not give the frame twice
                yielded += 1
                image = upright_rgb(frame)
                yield Frame(index=index, timestamp=times[min(index, len(times) - 1)], image=image)
                if not wanted_set:
                    break  # everything selected is decoded; the rest of the file is not needed
        if size is None or not yielded:
            raise InvalidVideoError(f"{path.name}: no frame could be decoded; the file is corrupt")
        if wanted_set:
            logger.warning("%s: %d selected frames did not decode", path.name, len(wanted_set))


def select_indices(times: list[float], duration_s: float, num_frames: int) -> list[int]:
    """Pick the frames on screen at the centres of ``num_frames`` equal slices of the duration.

    Args:
        times: Sorted presentation times of every frame, seconds from the first.
        duration_s: Measured duration (>= the last time).
        num_frames: How many frames to pick.

    Returns:
        Sorted, distinct frame indices; every index when there are not more frames than asked.
    """
    count = len(times)
    if count <= num_frames:
        return list(range(count))
    picks = []
    for k in range(num_frames):
        target = (k + 0.5) * duration_s / num_frames
        picks.append(max(0, bisect.bisect_right(times, target) - 1))
    # Long-held frames (variable frame rate) can win two slices: shift to keep picks distinct.
    for k in range(1, num_frames):
        picks[k] = max(picks[k], picks[k - 1] + 1)
    for k in range(num_frames - 1, -1, -1):
        limit = count - num_frames + k if k == num_frames - 1 else picks[k + 1] - 1
        picks[k] = min(picks[k], limit)
    return picks


def _info(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    timeline: _Timeline,
    rotation: int,
    size: tuple[int, int],
) -> VideoInfo:
    width, height = size if rotation in (0, 180) else (size[1], size[0])
    duration = timeline.duration_s
    count = len(timeline.ticks)
    return VideoInfo(
        container=container.format.name,
        codec=stream.codec_context.name,
        width=width,
        height=height,
        rotation=rotation,
        duration_s=duration,
        frame_count=count,
        fps=count / duration if duration > 0 else 0.0,
    )
