"""A clock burned into video frames, to measure a live session's true lag (tests and bench only).

The sender writes into each frame, as it hands the frame to the encoder, the wall-clock time of
that instant: a row of :data:`BITS` black or white :data:`BLOCK`-pixel squares in the top-left
corner (24 bits of milliseconds, which wrap every 4.6 hours, then 8 check bits), aligned to
H.264's 16-pixel macroblocks so that compression does not smear one square into the next.
:func:`read_stamp` reads it back from a decoded RGB frame and :class:`StampedFrames` reads it from
every frame a session takes: the true lag of a frame is then the time the update that first
includes it came out minus its stamp (sender and reader on one machine read the same clock), where
the session's own ``frame_lags_s`` start only at the frame's decoding. Nothing here is in the
package: production frames carry no stamp and pay nothing for reading one.

Sender: ``python -m tests.live.stamp CLIP URL`` decodes the clip (looped), stamps every frame at
its real-time instant and pipes it raw to ``ffmpeg`` (libx264 ``ultrafast``/``zerolatency``, a
keyframe a second), which serves it at ``URL`` listening for one reader
(``rtmp://127.0.0.1:PORT/live/x``). It prints ``ready`` once ffmpeg listens; it ends when its
reader leaves or when it is killed.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import av
import numpy as np

from tests.live.servers import wait_listening

if TYPE_CHECKING:  # the sender process needs none of the session's stack
    from deepverify.live.mailbox import Arrival
    from deepverify.live.session import FrameSource
    from deepverify.live.updates import LiveUpdate

BLOCK: Final = 16
DATA_BITS: Final = 24
CHECK_BITS: Final = 8
BITS: Final = DATA_BITS + CHECK_BITS
_WRAP = 1 << DATA_BITS
_BLACK, _WHITE, _NEUTRAL = 16, 235, 128  # studio-range luma; chroma without colour


def _word(millis: int) -> int:
    value = millis % _WRAP
    check = zlib.crc32(value.to_bytes(3, "big")) & ((1 << CHECK_BITS) - 1)
    return value << CHECK_BITS | check


def stamp_yuv420p(planes: np.ndarray, when: float) -> None:
    """Write ``when`` (seconds, wall clock) into a frame in place.

    Args:
        planes: The frame as PyAV's ``to_ndarray(format="yuv420p")`` gives it: ``(H * 3 / 2, W)``
            ``uint8``, the luma plane then both chroma planes; at least ``BITS * BLOCK`` wide.
        when: The time to write, e.g. ``time.time()``; kept to the millisecond.
    """
    height, width = planes.shape[0] * 2 // 3, planes.shape[1]
    if width < BITS * BLOCK or height < BLOCK:
        raise ValueError(f"a {width}x{height} frame is too small for a {BITS}-block stamp")
    word = _word(int(when * 1000))
    for k in range(BITS):
        bit = word >> (BITS - 1 - k) & 1
        planes[:BLOCK, k * BLOCK : (k + 1) * BLOCK] = _WHITE if bit else _BLACK
    chroma = planes[height:].reshape(2, height // 2, width // 2)  # U, V
    chroma[:, : BLOCK // 2, : BITS * BLOCK // 2] = _NEUTRAL


def read_stamp(image: np.ndarray, *, now: float | None = None) -> float | None:
    """The time stamped into a decoded frame; None when it carries no readable stamp.

    Args:
        image: RGB ``uint8`` ``(H, W, 3)``, as a live session sees it.
        now: The current wall-clock time (default: ``time.time()``); the stamp is the latest
            time at or before it with the stamped milliseconds.
    """
    if image.shape[0] < BLOCK or image.shape[1] < BITS * BLOCK:
        return None
    inner = image[BLOCK // 4 : BLOCK * 3 // 4, : BITS * BLOCK]  # block centres, away from edges
    means = inner.reshape(BLOCK // 2, BITS, BLOCK, 3)[:, :, BLOCK // 4 : BLOCK * 3 // 4].mean(
        axis=(0, 2, 3)
    )
    word = 0
    for mean in means:
        word = word << 1 | int(mean > 127.5)
    value = word >> CHECK_BITS
    if _word(value) != word:
        return None
    now_ms = int((time.time() if now is None else now) * 1000)
    return (now_ms - (now_ms - value) % _WRAP) / 1000


class StampedFrames:
    """A session's frame source that reads the stamp of every frame the session takes.

    Wraps a :class:`deepverify.live.source.LiveSource` (or any frame source) for
    :func:`deepverify.live.session.judge_frames`; reading a stamp costs a few microseconds.
    """

    def __init__(self, frames: FrameSource) -> None:
        self._frames = frames
        self.sent: dict[int, float] = {}  # frame index -> the time stamped into it
        self.unreadable = 0  # frames taken without a readable stamp

    @property
    def sampled(self) -> int:
        return self._frames.sampled

    @property
    def dropped(self) -> int:
        return self._frames.dropped

    @property
    def reconnects(self) -> int:
        return self._frames.reconnects

    def get(self, timeout: float) -> Arrival | None:
        arrival = self._frames.get(timeout)
        if arrival is not None:
            sent = read_stamp(arrival.frame.image)
            if sent is None:
                self.unreadable += 1
            else:
                self.sent[arrival.frame.index] = sent
        return arrival

    def lags(self, update: LiveUpdate, received: float) -> list[tuple[float, float]]:
        """``(arrival lag, true lag)`` of each stamped frame first included in ``update``.

        Args:
            update: The update, as the session yielded it.
            received: Wall-clock time the update came out of the session.
        """
        count = min(len(update.frame_lags_s), len(update.frame_indices))  # the newest frames
        if count == 0:
            return []
        pairs = []
        fresh = zip(update.frame_indices[-count:], update.frame_lags_s[-count:], strict=True)
        for index, lag in fresh:
            sent = self.sent.pop(index, None)
            if sent is not None:
                pairs.append((lag, received - sent))
        return pairs


def ffmpeg_command(url: str, *, width: int, height: int, fps: int) -> list[str]:
    """ffmpeg reading raw ``yuv420p`` frames on stdin and serving them, encoded, at ``url``."""
    return [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", str(fps),
        "-i", "pipe:0",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(fps),
        "-f", "flv", "-listen", "1", url,
    ]  # fmt: skip


def send(clip: Path, url: str) -> None:
    """Serve ``clip``, looped and stamped, at ``url`` until the reader leaves."""
    port = urlsplit(url).port
    if port is None:
        raise ValueError(f"{url}: give a port")
    with av.open(str(clip)) as reader:
        vin = reader.streams.video[0]
        width, height = vin.codec_context.width, vin.codec_context.height
        fps = round(vin.average_rate or 25)
        encoder = subprocess.Popen(
            ffmpeg_command(url, width=width, height=height, fps=fps), stdin=subprocess.PIPE
        )
        assert encoder.stdin is not None
        # ffmpeg listens only after it has read its first frames: announce it from a thread.
        threading.Thread(target=_announce, args=(port, encoder), daemon=True).start()
        interval = 1.0 / fps
        due = time.monotonic()
        try:
            while True:
                reader.seek(0)
                for frame in reader.decode(vin):
                    planes = frame.to_ndarray(format="yuv420p")
                    wait = due - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    elif wait < -interval:  # writing was blocked (no reader yet): no burst
                        due = time.monotonic()
                    stamp_yuv420p(planes, time.time())
                    encoder.stdin.write(planes.data)
                    due += interval
        except BrokenPipeError:  # ffmpeg ended: its reader left
            pass
        finally:
            encoder.kill()
            encoder.wait()


def _announce(port: int, encoder: subprocess.Popen[bytes]) -> None:
    wait_listening(port, encoder)
    print("ready", flush=True)


if __name__ == "__main__":
    send(Path(sys.argv[1]), sys.argv[2])
