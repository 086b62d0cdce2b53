"""Stopping a running analysis: its time budget, and its video being deleted (cancellation).

A :class:`JobGuard` is called often while a job runs: by the decoder for every packet read and
frame decoded (the pipeline's ``check`` hook) and at every progress report between and within
stages. Each call is cheap (an event flag and a clock read); it raises to stop the analysis
cooperatively, so the worker is free for the next job within moments.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from deepverify.errors import DeepverifyError


class JobCancelledError(Exception):
    """The job's video was deleted (or the claim lost) while it ran: stop and record nothing."""


class AnalysisTimeoutError(DeepverifyError):
    """The analysis used up its wall-time budget; the job fails with this reason."""


class JobGuard:
    """Raises inside a running analysis once it is cancelled or past its deadline.

    Args:
        max_seconds: Wall-time budget of the analysis, counted from construction.
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(self, *, max_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_seconds = max_seconds
        self._clock = clock
        self._deadline = clock() + max_seconds
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Ask the analysis to stop at its next check (thread-safe)."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancelled.is_set()

    def __call__(self) -> None:
        """Return when the analysis may go on; raise when it must stop.

        Raises:
            JobCancelledError: :meth:`cancel` was called.
            AnalysisTimeoutError: the budget is spent.
        """
        if self._cancelled.is_set():
            raise JobCancelledError("the video was deleted while it was being analysed")
        if self._clock() > self._deadline:
            raise AnalysisTimeoutError(
                f"the analysis took longer than the limit of {self.max_seconds:g} s; upload a "
                "shorter or lower-resolution video"
            )
