"""The one-frame handover between a frame producer and the live session: the newest frame wins.

When the session falls behind, a waiting frame is replaced by a newer one (and counted as
dropped) instead of queueing, so the lag stays bounded whatever the load.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from deepverify.video.frames import Frame


@dataclass(frozen=True)
class Coded:
    """A stream's running totals up to a frame: what its heavy-compression gate compares.

    Attributes:
        bytes: Size of the video packets read since the session started.
        pixels: Pixels of the frames decoded from them.
    """

    bytes: int
    pixels: int


@dataclass(frozen=True)
class Arrival:
    """A sampled frame as it arrived.

    Attributes:
        frame: The upright full-resolution frame; ``index`` counts frames from the start of the
            session, ``timestamp`` is stream seconds from the first frame.
        arrived: ``time.monotonic()`` when it was decoded.
        coded: The stream's totals when it was decoded (None: a picture a client pushed).
    """

    frame: Frame
    arrived: float
    coded: Coded | None = None


class Mailbox:
    """One waiting frame at most, with the counts a session reports."""

    def __init__(self) -> None:
        self.sampled = 0  # frames handed in
        self.dropped = 0  # of those, replaced before they were taken
        self._slot: Arrival | None = None
        self._error: BaseException | None = None
        self._ended = False
        self._cond = threading.Condition()

    def put(self, arrival: Arrival) -> None:
        """Hand in a frame, replacing the one waiting (if any)."""
        with self._cond:
            if self._slot is not None:
                self.dropped += 1
            self._slot = arrival
            self.sampled += 1
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        """The producer failed: :meth:`get` raises ``error`` once the waiting frame is taken."""
        with self._cond:
            self._error = error
            self._cond.notify_all()

    def end(self) -> None:
        """No more frames: :meth:`get` raises ``EOFError`` once the waiting frame is taken."""
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def wake(self) -> None:
        """Wake a waiting :meth:`get` (it returns None if nothing came)."""
        with self._cond:
            self._cond.notify_all()

    def get(self, timeout: float) -> Arrival | None:
        """The waiting frame; None when none came within ``timeout``.

        Raises:
            EOFError: The producer ended and every frame was taken.
            Exception: The producer's error (see :meth:`fail`).
        """
        with self._cond:
            self._cond.wait_for(lambda: self._slot or self._error or self._ended, timeout)
            if self._slot is not None:
                arrival, self._slot = self._slot, None
                return arrival
            if self._error is not None:
                raise self._error
            if self._ended:
                raise EOFError("the source has ended")
            return None
