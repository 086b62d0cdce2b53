"""Frames pushed by a client: a browser's camera or shared screen, as JPEG pictures.

The page captures frames (8-10 a second, with their capture times) and sends each one; the feed
samples them at the session's rate by capture time (the first frame at or after each sampling
instant), decodes only those, and hands them to the session through the same newest-wins
:class:`~deepverify.live.mailbox.Mailbox` as a stream's frames. A picture's size is read from its
JPEG header before it is decoded, so a small file cannot unpack into a huge image.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from deepverify.errors import DeepverifyError
from deepverify.live.mailbox import Arrival, Mailbox
from deepverify.video.frames import Frame
from deepverify.video.io import MAX_SIDE

# Start-of-frame markers (baseline, progressive, ...) carry the picture's size; C4, C8 and CC
# are other segments with numbers in the same range.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class LiveFrameError(DeepverifyError):
    """A pushed frame is refused (not a JPEG, too large, out of order); the session goes on."""


def jpeg_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` from a JPEG's header, without decoding it.

    Raises:
        LiveFrameError: Not a JPEG, or no size in its header.
    """
    if data[:2] != b"\xff\xd8":
        raise LiveFrameError("a frame is not a JPEG picture; send image/jpeg frames")
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            break
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _SOF and at + 9 <= len(data):
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            return width, height
        at += 2 + length
    raise LiveFrameError("a frame's JPEG header gives no picture size; the picture is damaged")


class FrameFeed:
    """The frames a client pushes, sampled at ``fps`` by their capture times.

    :meth:`push` is called by the receiving side, :meth:`get` by the session (see
    :func:`deepverify.live.session.judge_frames`).
    """

    def __init__(self, *, fps: float) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.interval = 1.0 / fps
        self.reconnects = 0  # a feed does not reconnect: the client does
        self._mailbox = Mailbox()
        self._origin: float | None = None
        self._last = 0.0
        self._next = 0.0
        self._count = 0

    @property
    def sampled(self) -> int:
        """Frames sampled since the start."""
        return self._mailbox.sampled

    @property
    def dropped(self) -> int:
        """Sampled frames replaced by newer ones before the session took them."""
        return self._mailbox.dropped

    def push(self, data: bytes, captured_s: float) -> bool:
        """Take one pushed frame; whether it was sampled (decoded and handed to the session).

        Args:
            data: The JPEG picture.
            captured_s: When it was captured, in seconds on the client's clock.

        Raises:
            LiveFrameError: Not a JPEG, a picture over the size limit or that does not decode,
                or a capture time before the previous frame's.
        """
        width, height = jpeg_size(data)
        if max(width, height) > MAX_SIDE or min(width, height) < 1:
            raise LiveFrameError(
                f"a frame of {width}x{height} is outside the 1-{MAX_SIDE} pixel limits"
            )
        if self._origin is None:
            self._origin = captured_s
        when = captured_s - self._origin
        if when < self._last:
            raise LiveFrameError("frames must come in capture order (a capture time went back)")
        self._last = when
        index = self._count
        self._count += 1
        if when < self._next:
            return False
        while self._next <= when:
            self._next += self.interval
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise LiveFrameError("a frame does not decode as a JPEG picture; it is damaged")
        rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        self._mailbox.put(Arrival(Frame(index, when, rgb), time.monotonic()))
        return True

    def end(self) -> None:
        """The client is gone: the session makes its last update and ends."""
        self._mailbox.end()

    def get(self, timeout: float) -> Arrival | None:
        """The newest sampled frame not yet taken (see :meth:`Mailbox.get`)."""
        return self._mailbox.get(timeout)
