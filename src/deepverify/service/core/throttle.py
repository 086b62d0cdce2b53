"""Sign-in throttling: failed attempts counted per account and per client address.

A sliding window in memory: after ``max_failures`` failed attempts for a key within
``window_s`` seconds, further attempts for that key are refused (HTTP 429 with ``Retry-After``)
until the oldest failure leaves the window; the password is not even checked, so a locked key
costs the server nothing. A success clears the account's count. The counts live in one server
process: several API processes each keep their own (documented in the README).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class Throttle:
    """Counts failures per key in a sliding window; thread-safe.

    Args:
        max_failures: Failures allowed per key within the window.
        window_s: The window in seconds.
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(
        self, *, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it may now."""
        with self._lock:
            now = self._clock()
            times = self._recent(key, now)
            if len(times) < self.max_failures:
                return 0
            return max(1, math.ceil(times[0] + self.window_s - now))

    def failed(self, key: str) -> None:
        """Record a failed attempt for ``key``."""
        with self._lock:
            now = self._clock()
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)

    def clear(self, key: str) -> None:
        """Forget ``key``'s failures (a successful sign-in)."""
        with self._lock:
            self._failures.pop(key, None)
