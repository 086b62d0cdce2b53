"""Live sessions run by the service: guarded start, updates to listeners, stop.

A session judges a stream URL with :func:`deepverify.live.session.run_live` on a thread of its
own; its updates are kept (the latest :data:`KEPT_UPDATES`) for server-sent events. Guards:

- the URL's protocol must be one of :data:`deepverify.live.source.STREAM_SCHEMES`;
- its host must resolve only to public addresses: private, loopback, link-local, multicast,
  reserved and unspecified ones are refused (server-side request forgery) unless an
  administrator allows them (``allow_private``). FFmpeg resolves the name again when it
  connects; a name that changes its answer in between is not caught here (a network policy for
  the service's outbound traffic is the complete answer);
- at most ``max_per_user`` sessions per user and ``max_sessions`` in all
  (:class:`TooManyLiveSessions`, answered 429);
- a session stops by itself after ``max_seconds``.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from deepverify.errors import DeepverifyError
from deepverify.live.feed import FrameFeed
from deepverify.live.source import STREAM_SCHEMES, describe
from deepverify.live.updates import LiveUpdate
from deepverify.service.core.settings import Settings
from deepverify.service.jobs.analysis import ServiceModel

logger = logging.getLogger(__name__)

KEPT_UPDATES = 120
"""Updates a session keeps for listeners that join or reconnect late."""

Runner = Callable[[str, float, threading.Event], Iterator[LiveUpdate]]
"""Judges a URL for at most the given seconds until the event is set (``run_live`` with the
service's model)."""
FeedRunner = Callable[[FrameFeed, float, threading.Event], Iterator[LiveUpdate]]
"""Judges the frames a client pushes, likewise (``judge_frames`` with the service's model)."""


class LiveRequestError(DeepverifyError):
    """A live session request the service refuses (bad URL, forbidden address): 400."""


class TooManyLiveSessions(DeepverifyError):
    """Over the per-user or the global session limit: 429."""


@dataclass(frozen=True)
class LiveLimits:
    """The service's live-session guards; :func:`limits_from` reads them from its settings.

    Attributes:
        max_sessions: Sessions running at once, all users together.
        max_per_user: Sessions one user may run at once.
        max_seconds: A session's longest life.
        max_frame_bytes: Largest frame a client may push (one WebSocket message).
        max_frames_per_second: Most frames a client may push a second.
        allow_private: Accept private, loopback and link-local addresses (an administrator's
            choice, for cameras on the local network).
    """

    max_sessions: int
    max_per_user: int
    max_seconds: float
    max_frame_bytes: int
    max_frames_per_second: float
    allow_private: bool


def limits_from(settings: Settings) -> LiveLimits:
    """The live-session guards the service's settings give."""
    return LiveLimits(
        max_sessions=settings.live_max_sessions,
        max_per_user=settings.live_max_sessions_per_user,
        max_seconds=settings.live_max_seconds,
        max_frame_bytes=settings.live_max_frame_bytes,
        max_frames_per_second=settings.live_max_frames_per_second,
        allow_private=settings.live_allow_private_addresses,
    )


def pipeline_runner(shared: ServiceModel) -> Runner:
    """Judge with the service's model (shared) and a face detector of the session's own.

    Both are loaded when the first update is asked for, on the session's thread.
    """

    def run(url: str, max_seconds: float, stop: threading.Event) -> Iterator[LiveUpdate]:
        from deepverify.live.options import LiveOptions
        from deepverify.live.session import run_live

        options = LiveOptions(duration_s=max_seconds, explain=False)
        yield from run_live(
            url, model=shared.engine, detector=shared.detector(), options=options, stop=stop
        )

    return run


def pipeline_feed_runner(shared: ServiceModel) -> FeedRunner:
    """Judge pushed frames as :func:`pipeline_runner` judges a URL.

    Loading waits for the first update, asked for on a worker thread, not the event loop.
    """

    def run(feed: FrameFeed, max_seconds: float, stop: threading.Event) -> Iterator[LiveUpdate]:
        from deepverify.live.options import LiveOptions
        from deepverify.live.session import judge_frames

        options = LiveOptions(duration_s=max_seconds, explain=False)
        yield from judge_frames(
            feed, model=shared.engine, detector=shared.detector(), options=options, stop=stop
        )

    return run


def check_stream_url(
    url: str,
    *,
    allow_private: bool,
    resolve: Callable[[str], list[str]] | None = None,
) -> str:
    """Refuse a URL a live session must not open; the URL unchanged when it may.

    Args:
        url: What the user asked to watch.
        allow_private: Accept addresses that are not public.
        resolve: Host name to its addresses (default: the system resolver).

    Raises:
        LiveRequestError: An unsupported protocol, no host, a host that does not resolve, or
            one that resolves to an address that is not public.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in STREAM_SCHEMES:
        raise LiveRequestError(
            f"unsupported protocol {scheme or '(none)'!r}; use one of "
            f"{', '.join(sorted(STREAM_SCHEMES))}"
        )
    host = parts.hostname
    if not host:
        raise LiveRequestError(f"{describe(url)}: the URL names no host")
    addresses = (resolve or _resolve)(host)
    if not addresses:
        raise LiveRequestError(f"{host}: the host name does not resolve")
    if not allow_private:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not ip.is_global or ip.is_multicast:
                raise LiveRequestError(
                    f"{host}: resolves to {ip}, a private, loopback or link-local address; "
                    "live sessions may only watch public streams (an administrator can allow "
                    "local ones)"
                )
    return url


def _resolve(host: str) -> list[str]:
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in found})


@dataclass
class LiveSessionState:
    """One running (or finished) session, as its owner sees it.

    Attributes:
        session_id: Random, unguessable.
        owner: The user's id.
        source: The URL without credentials.
        updates: The latest updates, oldest first.
        seq: The newest update's number (0 before the first).
        error: Why the session ended, if it failed.
        done: Whether it has ended.
    """

    session_id: str
    owner: str
    source: str
    updates: deque[LiveUpdate] = field(default_factory=lambda: deque(maxlen=KEPT_UPDATES))
    seq: int = 0
    error: str | None = None
    done: bool = False
    stop: threading.Event = field(default_factory=threading.Event)


class LiveSessions:
    """The service's running live sessions (one per thread), with their limits."""

    def __init__(
        self, limits: LiveLimits, runner: Runner, feed_runner: FeedRunner | None = None
    ) -> None:
        self.limits = limits
        self._runner = runner
        self.feed_runner = feed_runner  # None: no camera or screen sessions
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._sessions: dict[str, LiveSessionState] = {}

    def start(
        self, *, owner: str, url: str, resolve: Callable[[str], list[str]] | None = None
    ) -> LiveSessionState:
        """Check ``url`` and the limits, then start judging it.

        Raises:
            LiveRequestError: The URL is refused (see :func:`check_stream_url`).
            TooManyLiveSessions: Over a limit.
        """
        check_stream_url(url, allow_private=self.limits.allow_private, resolve=resolve)
        state = self.reserve(owner=owner, source=describe(url))
        thread = threading.Thread(
            target=self._run, args=(state, url), name=f"live-{state.session_id[:8]}", daemon=True
        )
        thread.start()
        return state

    def reserve(self, *, owner: str, source: str) -> LiveSessionState:
        """Count a session against the limits (a URL session, or frames a client pushes).

        Raises:
            TooManyLiveSessions: Over a limit.
        """
        with self._lock:
            running = [s for s in self._sessions.values() if not s.done]
            mine = sum(1 for s in running if s.owner == owner)
            if mine >= self.limits.max_per_user:
                raise TooManyLiveSessions(
                    f"you already run {mine} live session(s), the most allowed; stop one first"
                )
            if len(running) >= self.limits.max_sessions:
                raise TooManyLiveSessions(
                    f"the service runs its maximum of {self.limits.max_sessions} live sessions; "
                    "try again later"
                )
            state = LiveSessionState(uuid.uuid4().hex, owner, source)
            self._sessions = {k: s for k, s in self._sessions.items() if not s.done}
            self._sessions[state.session_id] = state
        return state

    def release(self, state: LiveSessionState, error: str | None = None) -> None:
        """Mark a reserved session as ended."""
        with self._changed:
            state.error = error
            state.done = True
            self._changed.notify_all()

    def _run(self, state: LiveSessionState, url: str) -> None:
        updates = self._runner(url, self.limits.max_seconds, state.stop)
        try:
            for update in updates:
                with self._changed:
                    state.updates.append(update)
                    state.seq = update.seq
                    self._changed.notify_all()
                if state.stop.is_set():
                    break
        except DeepverifyError as exc:
            state.error = str(exc)
        except Exception:  # a session's failure must not go unseen, nor stop the service
            logger.exception("live session %s failed", state.session_id)
            state.error = "the live session failed; see the service's log"
        finally:
            close = getattr(updates, "close", None)
            if close is not None:
                close()
            with self._changed:
                state.done = True
                self._changed.notify_all()

    def get(self, session_id: str, owner: str) -> LiveSessionState | None:
        """The owner's session (None for another user's: it does not exist for them)."""
        with self._lock:
            state = self._sessions.get(session_id)
        return state if state is not None and state.owner == owner else None

    def stop(self, session_id: str, owner: str) -> bool:
        """Ask the owner's session to stop (it ends after its current update); found or not."""
        state = self.get(session_id, owner)
        if state is None:
            return False
        state.stop.set()
        return True

    def wait(self, state: LiveSessionState, after: int, timeout: float) -> list[LiveUpdate]:
        """Updates newer than ``after``, waiting up to ``timeout`` s for one (empty: none)."""
        with self._changed:
            self._changed.wait_for(lambda: state.seq > after or state.done, timeout)
            return [u for u in state.updates if u.seq > after]

    def running(self, owner: str | None = None) -> int:
        """Sessions running now: the owner's, or everyone's."""
        with self._lock:
            return sum(
                1
                for s in self._sessions.values()
                if not s.done and (owner is None or s.owner == owner)
            )

    def stop_all(self) -> None:
        """Stop every session (the service shuts down)."""
        with self._lock:
            for state in self._sessions.values():
                state.stop.set()
