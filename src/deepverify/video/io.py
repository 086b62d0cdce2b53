"""The PyAV layer under :mod:`deepverify.video.frames`: open a video, demux it, decode it.

Internal to the decoding stage; the rest of the package uses :mod:`deepverify.video.frames`,
except the provenance reader and live sources, which open containers here. NumPy is imported only
where a picture becomes an array: importing it would cost the provenance reader, which opens
containers through this module, more than its own work does.

- :func:`_open_video` checks the path, opens the container, picks the video stream and turns
  every way that fails (missing, empty, a still image, audio only, too large, not a video FFmpeg
  reads) into an :class:`InvalidVideoError` that says what to do.
- :func:`open_container` is the one way a container is opened (here and by the provenance
  reader): within a wall-clock budget, with what FFmpeg buffers while it identifies the
  streams bounded by :data:`PROBE_BYTES`, and never for an MP4-family file whose tag boxes
  exceed :data:`~deepverify.video.isobmff.MAX_TAG_BOX_BYTES` (FFmpeg copies tags whole on opening)
  or with over :data:`~deepverify.video.isobmff.MAX_BOXES` boxes at one level, and with at most
  :data:`MAX_STREAMS` streams.
- :func:`_scan` is the demux pass: it reads every packet of every stream, without decoding, and
  keeps the video packets' timestamps in a :class:`_Timeline`, within :data:`MAX_PACKETS` video
  packets, :data:`PACKETS_PER_FRAME` times as many packets in all, and :data:`MAX_SCAN_SECONDS`.
- :func:`_decoded` decodes in presentation order, tolerating up to :data:`MAX_DECODE_ERRORS`
  damaged packets, and can leave unselected non-reference frames unreconstructed;
  :func:`_rotation` reads the turn that makes a decoded picture upright.
"""

from __future__ import annotations

import itertools
import logging
import os
import stat
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import av.container
import av.stream
import av.video.stream

from deepverify.defaults import VIDEO_SUFFIXES
from deepverify.errors import InvalidVideoError
from deepverify.video import isobmff

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

MAX_SIDE = 8192
"""Largest accepted frame side in pixels (8K UHD is 7680); checked from the header."""
MAX_PACKETS = 2_000_000
"""Most video packets read from one file (about 18 h at 30 fps): a bound against endless files."""
MAX_SCAN_SECONDS = 120.0
"""Wall-clock bound on the demux pass, against pathological files."""
MAX_DECODE_ERRORS = 200
"""Corrupt packets tolerated before giving up on a file."""
PACKETS_PER_FRAME = 8
"""Packets of all streams together allowed per allowed video packet. Audio, subtitle and data
packets cost the demux pass as much as frames do (a file of three frames and millions of one-byte
audio packets took 25 s to check), so they count against a budget too. A real video has one to
three audio packets per frame."""
MAX_STREAMS = 64
"""Most streams FFmpeg creates when it opens a container (its ``max_streams``; FFmpeg's default
is 1,000). Identifying a stream opens a decoder for it, about 0.8 MB each for H.264: a 285 KB
Matroska file of 300 tiny H.264 streams grew opening by 240 MB (55 MB at this bound), and
a 3 MB one of 1,000 streams made a scan peak at 1.3 GB. Real videos have a few streams, broadcast
captures a few dozen. Matroska and MPEG-TS keep the first 64; MP4 refuses the file."""
PROBE_BYTES = 256 * 1024
"""Packet payload FFmpeg may read while it identifies the streams on opening (its ``probesize``;
FFmpeg's default is 5 MB). Every packet read then is kept, at a few hundred bytes of overhead
each, so with one-byte packets this bounds opening to about 130 MB; every clip in ``../shared``
opens with the same stream parameters at a quarter of it."""
MAX_OPEN_SECONDS = 10.0
"""Default wall-clock bound on opening a container (FFmpeg's stream identification)."""

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


def open_container(path: Path, *, max_seconds: float | None = None) -> av.container.InputContainer:
    """Open ``path`` for reading, bounded in time and in what FFmpeg buffers meanwhile.

    ``max_seconds`` defaults to :data:`MAX_OPEN_SECONDS`. Reading packets afterwards is bounded
    too: each packet must arrive within it.

    Raises:
        InvalidVideoError: An MP4-family file with tags larger than FFmpeg should copy, or with
            more boxes at one level or more streams than any video has.
        OSError: The file cannot be read.
        av.ExitError: Opening took longer than ``max_seconds``.
        av.FFmpegError: FFmpeg cannot open the file.
    """
    _refuse_oversized_tags(path)
    seconds = MAX_OPEN_SECONDS if max_seconds is None else max_seconds
    try:
        return av.open(
            str(path),
            mode="r",
            metadata_errors="ignore",
            container_options={"probesize": str(PROBE_BYTES), "max_streams": str(MAX_STREAMS)},
            timeout=(seconds, seconds),
        )
    except av.error.MemoryError:  # what FFmpeg's MP4 reader says past max_streams
        raise InvalidVideoError(
            f"{path.name}: FFmpeg could not open it within its limits (over {MAX_STREAMS} "
            "streams, which no video needs, or too little memory)"
        ) from None


def _refuse_oversized_tags(path: Path) -> None:
    with path.open("rb") as handle:
        try:
            found = isobmff.oversized_tags(handle)
        except isobmff.TooManyBoxesError as exc:
            raise InvalidVideoError(
                f"{path.name}: {exc}, which no video needs; the file is damaged or made to "
                "exhaust readers"
            ) from None
    if found is not None:
        box, size = found
        raise InvalidVideoError(
            f"{path.name}: its metadata ({box} box) is {size / 2**20:.1f} MiB, over the "
            f"{isobmff.MAX_TAG_BOX_BYTES / 2**20:g} MiB limit; remove the tags (e.g. ffmpeg -i "
            "IN -map_metadata -1 -c copy OUT) and try again"
        )


@contextmanager
def _open_video(
    path: Path, *, max_seconds: float = MAX_OPEN_SECONDS
) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """Open ``path`` and pick its video stream, refusing what is not a usable video."""
    _check_path(path)
    try:
        container = open_container(path, max_seconds=max_seconds)
    except av.ExitError:
        raise InvalidVideoError(_too_slow(path, max_seconds)) from None
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
    """Demux every packet (no decoding) and collect the video frames' timestamps.

    Every packet, of any stream, comes back to this loop: it counts against the packet budget,
    the clock and ``check``, so a file cannot hide its cost in streams that are not analysed.
    """
    ticks: list[int] = []
    count = 0
    last_duration = 0
    timed = True
    started = time.monotonic()
    within = _limits(path, max_packets, max_seconds, started)
    try:
        for packet in _packets(container, stream, within, check):
            if packet.size == 0 or packet.is_discard:
                continue
            tick = packet.pts if packet.pts is not None else packet.dts
            if tick is None:
                timed = False
            else:
                ticks.append(tick)
            count += 1
            last_duration = packet.duration or 0
            if count > max_packets:
                raise InvalidVideoError(
                    f"{path.name}: more than {max_packets} frames, over the limit; "
                    "cut it into shorter clips"
                )
    except av.ExitError:
        raise InvalidVideoError(_too_slow(path, max_seconds)) from None
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
        steps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
        last_duration = int(statistics.median(steps)) if steps else 0
    return _Timeline(ticks, time_base, ticks[-1] - ticks[0] + last_duration, timed=True)


def _packets(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    within: Callable[[int], None] | None,
    check: Check | None,
) -> Iterator[av.Packet[Any]]:
    """The packets of ``stream``, reading every stream's packets to get them.

    ``within`` gets the count of packets read so far (all streams) and raises past a limit;
    ``check`` is called for every packet. PyAV's ``demux(stream)`` would skip the other
    streams' packets inside its own loop, where neither can see them.
    """
    index = stream.index
    for read, packet in enumerate(container.demux(), start=1):
        if within is not None:
            within(read)
        if check is not None:
            check()
        if packet.stream_index == index:
            yield packet


def _limits(
    path: Path, max_packets: int, max_seconds: float, started: float
) -> Callable[[int], None]:
    """A hook that raises once ``packets`` (of all streams) or the clock go past the limits."""
    max_all = max_packets * PACKETS_PER_FRAME

    def within(packets: int) -> None:
        if packets > max_all:
            raise InvalidVideoError(
                f"{path.name}: more than {max_all} packets (audio, subtitles and other streams "
                "included), over the limit; remove the extra streams or cut it into shorter clips"
            )
        if time.monotonic() - started > max_seconds:
            raise InvalidVideoError(_too_slow(path, max_seconds))

    return within


def _too_slow(path: Path, max_seconds: float) -> str:
    return (
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
    check: Check | None = None,
) -> Iterator[av.VideoFrame]:
    """Decoded frames in presentation order, skipping damaged packets.

    With ``keep`` (presentation timestamps), a packet whose timestamp is not in it is decoded
    only if other frames refer to it, so only kept and reference frames come out. ``check`` is
    called for every packet read, of any stream.
    """
    errors = 0
    packets = _packets(container, stream, None, check)
    context = stream.codec_context
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            packet = None  # the end: flush the decoder
        except av.FFmpegError as exc:
            logger.warning("%s: stopped decoding at a damaged packet (%s)", path.name, _reason(exc))
            packet = None
        if keep is not None:
            # Read per packet, also by the frame threads: reference frames are always decoded.
            # The flush at the end (no packet) decodes whatever the decoder still holds.
            wanted = packet is None or packet.pts is None or packet.pts in keep
            context.skip_frame = "DEFAULT" if wanted else "NONREF"
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


def upright_rgb(frame: av.VideoFrame) -> np.ndarray:
    """The decoded picture as an RGB ``uint8`` array ``(H, W, 3)``, turned upright."""
    # One thread: by default swscale starts a pool of slice threads for every frame it converts
    # (PyAV makes a new context per frame), while scan and live already keep both cores busy.
    # The same pixels (3954 frames of the shared clips compared), 10 % less CPU a conversion.
    image: np.ndarray = frame.to_ndarray(format="rgb24", threads=1)
    rotation = _rotation(frame)
    if rotation:
        import numpy as np  # already loaded by PyAV's to_ndarray; not at import (see above)

        image = np.ascontiguousarray(np.rot90(image, k=rotation // 90))
    return image


def _reason(exc: av.FFmpegError) -> str:
    return str(exc.strerror or exc).rstrip(".")
