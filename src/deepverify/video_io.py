"""The PyAV layer under :mod:`deepverify.frames`: open a video, demux it, decode it.

Internal to the decoding stage; the rest of the package uses :mod:`deepverify.frames`.

- :func:`_open_video` checks the path, opens the container, picks the video stream and turns
  every way that fails (missing, empty, a still image, audio only, too large, not a video FFmpeg
  reads) into an :class:`InvalidVideoError` that says what to do.
- :func:`_scan` is the demux pass: it reads every video packet's timestamp, without decoding,
  into a :class:`_Timeline`, within :data:`MAX_PACKETS` and :data:`MAX_SCAN_SECONDS`.
- :func:`_decoded` decodes in presentation order, tolerating up to :data:`MAX_DECODE_ERRORS`
  damaged packets, and can leave unselected non-reference frames unreconstructed;
  :func:`_rotation` reads the turn that makes a decoded picture upright.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.stream
import av.video.stream
import numpy as np

from deepverify.defaults import VIDEO_SUFFIXES
from deepverify.errors import InvalidVideoError

logger = logging.getLogger(__name__)

MAX_SIDE = 8192
"""Largest accepted frame side in pixels (8K UHD is 7680); checked from the header."""
MAX_PACKETS = 2_000_000
"""Most video packets read from one file (about 18 h at 30 fps): a bound against endless files."""
MAX_SCAN_SECONDS = 120.0
"""Wall-clock bound on the demux pass, against pathological files."""
MAX_DECODE_ERRORS = 200
"""Corrupt packets tolerated before giving up on a file."""

Check = Callable[[], None]
"""A cooperative stop hook: called as decoding advances, it raises to stop the work."""

_SUPPORTED = ", ".join(suffix.lstrip(".") for suffix in VIDEO_SUFFIXES)
# FFmpeg reads still pictures through these demuxers; a single picture is not a video.
_IMAGE_FORMATS = ("image2", "image2pipe")
# Picture codecs: one frame of these (a one-frame GIF, a lone MJPEG) is a still image too.
_IMAGE_CODECS = ("gif", "png", "apng", "mjpeg", "webp", "bmp", "tiff", "jpeg2000")


@dataclass(frozen=True)
class _Timeline:
    """Presentation timestamps of every frame, from the demux pass."""

    ticks: list[int]  # sorted timestamps in ``time_base`` units, or ordinals when untimed
    time_base: Fraction
    duration_ticks: int
    timed: bool  # False when packets carry no timestamps and ticks are frame ordinals

    @property
    def times(self) -> list[float]:
        start = self.ticks[0]
        return [float((t - start) * self.time_base) for t in self.ticks]

    @property
    def duration_s(self) -> float:
        return float(self.duration_ticks * self.time_base)


def _check_path(path: Path) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InvalidVideoError(f"{path}: no such file; check the path") from None
    except OSError as exc:
        raise InvalidVideoError(f"{path}: cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise InvalidVideoError(f"{path}: is a directory, not a video file")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidVideoError(f"{path}: not a regular file; give a video file")
    if info.st_size == 0:
        raise InvalidVideoError(f"{path.name}: the file is empty; give a video ({_SUPPORTED})")
    if not os.access(path, os.R_OK):
        raise InvalidVideoError(f"{path}: permission denied; make the file readable")


@contextmanager
def _open_video(
    path: Path,
) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """Open ``path`` and pick its video stream, refusing what is not a usable video."""
    _check_path(path)
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise InvalidVideoError(_open_failure(path, exc)) from None
    with container:
        fmt = container.format.name
        if fmt in _IMAGE_FORMATS or fmt.endswith("_pipe"):
            raise InvalidVideoError(f"{path.name}: a still image, not a video; give a video file")
        streams = [
            s
            for s in container.streams.video
            if not s.disposition & av.stream.Disposition.attached_pic
        ]
        if not streams:
            kind = "audio only" if container.streams.audio else "no video stream"
            raise InvalidVideoError(f"{path.name}: {kind}; give a file with a video track")
        stream = streams[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if max(width, height) > MAX_SIDE:
            raise InvalidVideoError(
                f"{path.name}: frames of {width}x{height} exceed the {MAX_SIDE}-pixel limit; "
                "downscale the video first"
            )
        # Also guards frames larger than the header claimed: the decoder refuses to allocate them.
        stream.codec_context.options = {"max_pixels": str(MAX_SIDE * MAX_SIDE)}
        yield container, stream


def _open_failure(path: Path, exc: av.FFmpegError) -> str:
    """One-line reason why FFmpeg could not open ``path``."""
    with path.open("rb") as handle:
        head = handle.read(12)
    if head[4:8] == b"ftyp":
        return (
            f"{path.name}: an MP4/MOV file that is incomplete or truncated ({_reason(exc)}); "
            "copy or export it again"
        )
    if isinstance(exc, av.EOFError):
        return f"{path.name}: the file ends before any video data; it is truncated"
    return f"{path.name}: not a video FFmpeg can read ({_reason(exc)}); give a {_SUPPORTED} file"


def _scan(
    path: Path,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    *,
    max_packets: int = MAX_PACKETS,
    max_seconds: float = MAX_SCAN_SECONDS,
    check: Check | None = None,
) -> _Timeline:
    """Demux every video packet (no decoding) and collect the frames' timestamps."""
    ticks: list[int] = []
    count = 0
    last_duration = 0
    timed = True
    started = time.monotonic()
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue
            tick = packet.pts if packet.pts is not None else packet.dts
            if tick is None:
                timed = False
            else:
                ticks.append(tick)
            count += 1
            last_duration = packet.duration or 0
            if check is not None:
                check()
            _within_scan_limits(path, count, max_packets, time.monotonic() - started, max_seconds)
    except av.FFmpegError as exc:
        # A truncated or damaged file: keep what was readable, if anything.
        logger.warning("%s: stopped reading at a damaged packet (%s)", path.name, _reason(exc))
    if count == 0:
        raise InvalidVideoError(f"{path.name}: the video track has no frames")
    if count == 1 and stream.codec_context.name in _IMAGE_CODECS:
        raise InvalidVideoError(f"{path.name}: a still image, not a video; give a video file")
    if not timed:
        return _untimed_timeline(stream, count)
    if not ticks:
        raise InvalidVideoError(f"{path.name}: the video track has no frames")
    ticks.sort()
    time_base = stream.time_base or Fraction(1, 1)
    if last_duration <= 0:
        steps = np.diff(ticks)
        last_duration = int(np.median(steps)) if len(steps) else 0
    return _Timeline(ticks, time_base, ticks[-1] - ticks[0] + last_duration, timed=True)


def _within_scan_limits(
    path: Path, packets: int, max_packets: int, seconds: float, max_seconds: float
) -> None:
    """Raise once reading the packets has gone past the count or time limit."""
    if packets > max_packets:
        raise InvalidVideoError(
            f"{path.name}: more than {max_packets} frames, over the limit; "
            "cut it into shorter clips"
        )
    if seconds > max_seconds:
        raise InvalidVideoError(
            f"{path.name}: took over {max_seconds:g} s just to read (pathological "
            "file); re-encode it or cut it into shorter clips"
        )


def _untimed_timeline(stream: av.video.stream.VideoStream, count: int) -> _Timeline:
    """Timeline for packets without timestamps (raw bitstreams): ordinals at the nominal rate."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(25, 1)
    return _Timeline(list(range(count)), 1 / Fraction(rate), count, timed=False)


def _decoded(
    path: Path,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    *,
    keep: set[int] | None = None,
) -> Iterator[av.VideoFrame]:
    """Decoded frames in presentation order, skipping damaged packets.

    With ``keep`` (presentation timestamps), a packet whose timestamp is not in it is decoded
    only if other frames refer to it, so only kept and reference frames come out.
    """
    errors = 0
    packets = container.demux(stream)
    context = stream.codec_context
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError as exc:
            logger.warning("%s: stopped decoding at a damaged packet (%s)", path.name, _reason(exc))
            packet = None
        if keep is not None and packet is not None:
            # Read per packet, also by the frame threads: reference frames are always decoded.
            context.skip_frame = "DEFAULT" if packet.pts is None or packet.pts in keep else "NONREF"
        try:
            # A None packet (end or damage) flushes the decoder's buffered frames.
            yield from stream.decode(packet)
        except av.FFmpegError as exc:
            errors += 1
            if errors > MAX_DECODE_ERRORS:
                raise InvalidVideoError(
                    f"{path.name}: too many corrupt packets ({_reason(exc)}); re-encode the video"
                ) from None
        if packet is None:
            return


def _rotation(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns (in degrees) that make ``frame`` upright."""
    degrees = frame.rotation or 0
    return round(degrees / 90.0) * 90 % 360


def _reason(exc: av.FFmpegError) -> str:
    return str(exc.strerror or exc).rstrip(".")
