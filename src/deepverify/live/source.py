"""Live sources: a stream FFmpeg reads, or a local file played at its real speed.

A reader thread opens the source with low-latency settings, decodes every frame (a stream's
frames depend on each other), keeps only the frames the sampler picks and hands each over in a
one-frame mailbox where the newest frame wins: when the consumer falls behind, older sampled
frames are dropped (and counted) instead of queued, so the lag stays bounded.

- Opening: ``analyzeduration`` 0.5 s, a small ``probesize``, ``fflags=nobuffer`` and
  ``flags=low_delay`` (FFmpeg's default 5 s probe would outlast the open timeout), one decoding
  thread (frame threads hold frames back), open and read timeouts.
- A damaged packet is skipped; a stream that drops (end, read timeout, or no frame for
  :attr:`SourceOptions.stall_s`, the watchdog) is reopened with backoff, since PyAV does not
  reconnect by itself, until no frame came for :attr:`SourceOptions.give_up_s`.
- The sampler picks, every ``1 / fps`` seconds of stream time, the frame on screen at that time,
  as :func:`deepverify.video.frames.select_indices` does for a file: a file played as a stream is
  sampled at the same frames as ``scan`` samples it when ``fps`` is ``frames / duration``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final
from urllib.parse import urlsplit

import av
import av.container
import av.video.stream

from deepverify.errors import DeepverifyError, InvalidVideoError
from deepverify.live.mailbox import Arrival, Coded, Mailbox
from deepverify.live.options import SourceOptions
from deepverify.video.frames import Frame
from deepverify.video.io import MAX_SIDE, MAX_STREAMS, open_container, upright_rgb

logger = logging.getLogger(__name__)

STREAM_SCHEMES: Final = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "srt", "udp"})
"""URL schemes accepted as live sources (HLS and HTTP-FLV come over http and https)."""

LOW_LATENCY_OPTIONS: Final = {
    "analyzeduration": "500000",  # microseconds
    "probesize": "65536",
    "fflags": "nobuffer",
    "flags": "low_delay",
    "max_streams": str(MAX_STREAMS),
}
"""FFmpeg options for opening a stream: identify it from half a second of data, buffer nothing,
create no more streams than a file may have."""

_BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 4.0)


class LiveSourceError(DeepverifyError):
    """A live source cannot be opened, is not a video, or stopped for good."""


def is_stream_url(source: str) -> bool:
    """Whether ``source`` is a URL with one of :data:`STREAM_SCHEMES` (else a local file)."""
    return urlsplit(source).scheme.lower() in STREAM_SCHEMES


def describe(source: str) -> str:
    """``source`` without credentials, for messages and reports."""
    parts = urlsplit(source)
    if parts.scheme.lower() in STREAM_SCHEMES and parts.hostname:
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc, query="").geturl()
    return source


class _Stalled(Exception):
    """The watchdog fired: packets come but no frame decodes."""


class LiveSource:
    """Frames sampled at ``fps`` from a live source, newest first (see the module's notes).

    Use as a context manager; :meth:`get` hands over the next sampled frame.
    """

    def __init__(self, source: str, *, fps: float, options: SourceOptions | None = None) -> None:
        """Check ``source`` (a URL of :data:`STREAM_SCHEMES` or an existing file).

        Raises:
            LiveSourceError: An unsupported URL scheme, or a file that does not exist.
            ValueError: ``fps`` is not positive.
        """
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.source = source
        self.name = describe(source)
        self.is_stream = is_stream_url(source)
        scheme = urlsplit(source).scheme.lower()
        if not self.is_stream and "://" in source:
            raise LiveSourceError(
                f"{self.name}: unsupported protocol {scheme!r}; use one of "
                f"{', '.join(sorted(STREAM_SCHEMES))}, or a local file"
            )
        if not self.is_stream and not Path(source).is_file():
            raise LiveSourceError(f"{source}: no such file or stream URL; check the source")
        self.options = options or SourceOptions()
        self.interval = 1.0 / fps
        self.reconnects = 0
        self._coded_bytes = 0  # the reader thread's totals (see Coded), over reconnects too
        self._decoded_pixels = 0
        self._mailbox = Mailbox()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-source", daemon=True)

    def __enter__(self) -> LiveSource:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading; the reader thread ends within the read timeout."""
        self._stop.set()
        self._mailbox.wake()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=self.options.read_timeout_s + 1.0)

    @property
    def sampled(self) -> int:
        """Frames the sampler picked since the start."""
        return self._mailbox.sampled

    @property
    def dropped(self) -> int:
        """Picked frames replaced by newer ones before the session took them."""
        return self._mailbox.dropped

    def get(self, timeout: float) -> Arrival | None:
        """The newest sampled frame not yet taken; None when none came within ``timeout``.

        Raises:
            EOFError: A local file has been played to its end and every frame was taken.
            LiveSourceError: The source failed (see its message).
        """
        return self._mailbox.get(timeout)

    # The reader thread.

    def _run(self) -> None:
        try:
            self._read_all()
        except BaseException as exc:  # handed to the consumer's thread and raised there
            self._mailbox.fail(
                exc if isinstance(exc, DeepverifyError) else LiveSourceError(str(exc))
            )
            return
        self._mailbox.end()

    def _read_all(self) -> None:
        sampler = _Sampler(self.interval)
        last_frame = time.monotonic()
        first = True
        failures = 0
        while not self._stop.is_set():
            reason = ""
            try:
                with self._open() as (container, stream):
                    first, failures = False, 0
                    for frame in self._frames(container, stream, sampler):
                        last_frame = time.monotonic()
                        coded = Coded(self._coded_bytes, self._decoded_pixels)
                        picked = sampler.push(frame, last_frame, coded)
                        if picked is not None:
                            self._mailbox.put(picked)
                    if not self.is_stream:
                        if (held := sampler.flush()) is not None:
                            self._mailbox.put(held)
                        return
                    reason = "the stream ended"
            except LiveSourceError:
                if first:
                    raise
                reason = "it cannot be reopened"
            except (_Stalled, av.FFmpegError, OSError) as exc:
                if first:
                    raise LiveSourceError(f"{self.name}: cannot read the stream ({exc})") from None
                reason = str(exc) or type(exc).__name__
            if self._stop.is_set():
                return
            silent = time.monotonic() - last_frame
            if silent > self.options.give_up_s:
                raise LiveSourceError(
                    f"{self.name}: no frame for {silent:.0f} s ({reason}); check that the "
                    "stream is still live"
                )
            delay = _BACKOFF_S[min(failures, len(_BACKOFF_S) - 1)]
            failures += 1
            logger.warning("%s: %s; reconnecting in %.2g s", self.name, reason, delay)
            self._stop.wait(delay)
            self.reconnects += 1
            sampler.reconnected()

    def _open(self) -> _Opened:
        return _Opened(self)

    def _frames(
        self,
        container: av.container.InputContainer,
        stream: av.video.stream.VideoStream,
        sampler: _Sampler,
    ) -> Iterator[av.VideoFrame]:
        """Decoded frames, skipping damaged packets; paced to real time for a file."""
        started = time.monotonic()
        last = started
        speed = self.options.speed
        for packet in container.demux(stream):
            if self._stop.is_set():
                return
            self._coded_bytes += packet.size
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:
                logger.warning("%s: skipped a damaged packet (%s)", self.name, exc)
                frames = []
            now = time.monotonic()
            if frames:
                last = now
            elif now - last > self.options.stall_s:
                raise _Stalled(f"no frame decoded for {now - last:.1f} s")
            for frame in frames:
                self._decoded_pixels += frame.width * frame.height
                if not self.is_stream and frame.time is not None:
                    wait = started + sampler.stream_time(frame) / speed - time.monotonic()
                    if wait > 0 and self._stop.wait(wait):
                        return
                yield frame


class _Opened:
    """Opens a source and picks its video stream; closes the container on exit."""

    def __init__(self, source: LiveSource) -> None:
        self.source = source
        self.container: av.container.InputContainer | None = None

    def __enter__(self) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
        src = self.source
        opts = src.options
        try:
            if src.is_stream:
                container = av.open(
                    src.source, mode="r", options=dict(LOW_LATENCY_OPTIONS),
                    metadata_errors="ignore", timeout=(opts.open_timeout_s, opts.read_timeout_s),
                )  # fmt: skip
            else:
                container = open_container(Path(src.source), max_seconds=opts.open_timeout_s)
        except InvalidVideoError as exc:
            raise LiveSourceError(str(exc)) from None
        except av.ExitError:
            raise LiveSourceError(
                f"{src.name}: did not answer within {opts.open_timeout_s:g} s; check the URL "
                "and that the stream is live"
            ) from None
        except (av.FFmpegError, OSError) as exc:
            raise LiveSourceError(f"{src.name}: cannot be opened ({_reason(exc)})") from None
        self.container = container
        streams = container.streams.video
        if not streams:
            kind = "audio only" if container.streams.audio else "no video stream"
            container.close()
            raise LiveSourceError(f"{src.name}: {kind}; give a source with video")
        stream = streams[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if max(width, height) > MAX_SIDE:
            container.close()
            raise LiveSourceError(
                f"{src.name}: frames of {width}x{height} exceed the {MAX_SIDE}-pixel limit"
            )
        stream.codec_context.options = {"max_pixels": str(MAX_SIDE * MAX_SIDE)}
        stream.thread_count = 1  # frame threads hold frames back: latency
        return container, stream

    def __exit__(self, *exc_info: object) -> None:
        if self.container is not None:
            self.container.close()


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).rstrip(".")


class _Sampler:
    """Picks the frame on screen every ``interval`` seconds of stream time.

    A frame is known to be on screen at a target time when the next frame starts after it, so a
    pick is handed over one frame late (40 ms at 25 fps). After a reconnect the stream's
    timestamps start again; stream time goes on from where it was.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.next_target = interval / 2  # slice centres, as select_indices
        self.count = 0  # frames decoded in the session
        self._held: _Held | None = None
        self._origin: float | None = None  # the current connection's first timestamp
        self._offset = 0.0  # stream time at the current connection's start
        self._last_time = 0.0
        self._step = 0.04

    def stream_time(self, frame: av.VideoFrame) -> float:
        """Seconds of stream time of ``frame`` (its timestamp, continued across reconnects)."""
        stamp = frame.time
        if stamp is None:
            return self._last_time + self._step
        if self._origin is None:
            self._origin = stamp
        return self._offset + stamp - self._origin

    def reconnected(self) -> None:
        self._offset = self._last_time + self._step
        self._origin = None
        self._held = None
        self.next_target = max(self.next_target, self._offset)

    def push(
        self, frame: av.VideoFrame, arrived: float, coded: Coded | None = None
    ) -> Arrival | None:
        """Take one decoded frame; the frame picked for a target time it passed, if any."""
        when = self.stream_time(frame)
        if self.count and when > self._last_time:
            self._step = min(1.0, when - self._last_time)
        self._last_time = max(self._last_time, when)
        picked = None
        if when > self.next_target:
            if self._held is not None:
                picked = self._held.arrival()
            while self.next_target < when:
                self.next_target += self.interval
        self._held = _Held(self.count, when, frame, arrived, coded)  # on screen at the next target
        self.count += 1
        return picked

    def flush(self) -> Arrival | None:
        """At a file's end: the held frame if it is on screen at the next target."""
        held, self._held = self._held, None
        if held is not None and self.next_target < held.when + self._step:
            return held.arrival()
        return None


@dataclass(frozen=True)
class _Held:
    """A decoded frame waiting to be known as the one on screen at a target time."""

    index: int
    when: float
    picture: av.VideoFrame
    arrived: float
    coded: Coded | None = None

    def arrival(self) -> Arrival:
        """Converted to RGB only now: most decoded frames are never picked."""
        image = upright_rgb(self.picture)
        return Arrival(Frame(self.index, self.when, image), self.arrived, self.coded)
