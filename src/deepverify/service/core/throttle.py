"""Sign-in throttling: failed attempts counted per account and per client address.

A moving window (the ``limits`` library): after ``max_failures`` failed attempts for a key within
``window_s`` seconds, further attempts for that key are refused (HTTP 429 with ``Retry-After``)
until the oldest failure leaves the window; the password is not even checked, so a locked key
costs the server nothing. A success clears the account's count. With a Redis broker the counts
live in that Redis, shared by every API process; otherwise in the memory of one process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from limits import RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from deepverify.errors import DeepverifyError

REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://")
"""Broker URLs whose Redis also keeps the counts."""

KEY_PREFIX = "deepverify-throttle"
"""Prefix of the counts' keys in Redis."""


class ThrottleUnavailableError(DeepverifyError):
    """The storage of the counts (the broker's Redis) cannot be reached; the API answers 503."""


def throttle_storage(broker_url: str | None) -> Storage:
    """Where the counts live: the broker's Redis when it is one, else this process's memory.

    Args:
        broker_url: The service's ``broker_url`` setting (None: no broker).
    """
    if broker_url is not None and broker_url.startswith(REDIS_SCHEMES):
        # wrap_exceptions: any Redis failure arrives as limits' StorageError.
        return RedisStorage(broker_url, key_prefix=KEY_PREFIX, wrap_exceptions=True)
    return MemoryStorage()


class Throttle:
    """Counts failures per key in a moving window; thread- and (with Redis) process-safe.

    Args:
        name: Tells this throttle's keys apart from other throttles' in a shared storage.
        max_failures: Failures allowed per key within the window.
        window_s: The window in seconds (rounded up to whole seconds, the library's unit).
        storage: Where the counts live (see :func:`throttle_storage`).
    """

    def __init__(self, *, name: str, max_failures: int, window_s: float, storage: Storage) -> None:
        self.max_failures = max_failures
        self.window_s = max(1, math.ceil(window_s))
        self._limit = RateLimitItemPerSecond(max_failures, self.window_s, namespace=name)
        self._limiter = MovingWindowRateLimiter(storage)

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it may now.

        Raises:
            ThrottleUnavailableError: The counts' storage cannot be reached (so do the others).
        """
        with _reachable():
            if self._limiter.test(self._limit, key):
                return 0
            reset_at, _ = self._limiter.get_window_stats(self._limit, key)
        return max(1, math.ceil(reset_at - time.time()))

    def failed(self, key: str) -> None:
        """Record a failed attempt for ``key`` (none is recorded once ``key`` is locked)."""
        with _reachable():
            self._limiter.hit(self._limit, key)

    def clear(self, key: str) -> None:
        """Forget ``key``'s failures (a successful sign-in)."""
        with _reachable():
            self._limiter.clear(self._limit, key)


@contextmanager
def _reachable() -> Iterator[None]:
    try:
        yield
    except StorageError as exc:  # the URL may hold a password: name the error, not the URL
        raise ThrottleUnavailableError(
            "sign-in is unavailable: the server cannot reach its Redis "
            f"({type(exc.storage_error).__name__}); try again in a moment"
        ) from exc
