"""Live sessions run by the service: guarded start, updates to listeners, stop.

A session judges a stream URL with :func:`deepverify.live.session.run_live`, or the frames a
client pushes with :func:`~deepverify.live.session.judge_frames`, on a thread of its own; its
updates are kept (the latest :data:`KEPT_UPDATES`, as JSON made once) for the server-sent events
and the camera WebSocket. At shutdown every session is stopped and its thread waited for
(:meth:`LiveSessions.stop_all`). Guards:

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
import json
import logging
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from deepverify.errors import DeepverifyError
from deepverify.live.feed import FrameFeed
from deepverify.live.source import STREAM_SCHEMES, describe
from deepverify.live.updates import LiveUpdate, UpdateEncoder
from deepverify.service.core.settings import Settings
from deepverify.service.jobs.analysis import ServiceModel

logger = logging.getLogger(__name__)

KEPT_UPDATES = 120
"""Updates a session keeps for listeners that join or reconnect late."""
SHUTDOWN_WAIT_S = 20.0
"""Longest wait, at shutdown, for the sessions' threads to end."""

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

        options = LiveOptions(duration_s=max_seconds, explain=shared.settings.live_heatmaps)
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

        options = LiveOptions(duration_s=max_seconds, explain=shared.settings.live_heatmaps)
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


@dataclass(frozen=True)
class KeptUpdate:
    """An update as listeners get it, made once on the session's thread.

    Attributes:
        update: The update, without its heatmap images (the JSON carries what is sent of them).
        json: Its JSON text (:class:`deepverify.live.updates.UpdateEncoder`): a face's heatmap
            is in the first update that has it and again whenever the face has a newer frame.
    """

    update: LiveUpdate
    json: str

    @property
    def seq(self) -> int:
        """The update's number."""
        return self.update.seq


def _keep(update: LiveUpdate, encoder: UpdateEncoder) -> KeptUpdate:
    text = json.dumps(encoder.encode(update))
    tracks = tuple(replace(track, heatmap=None) for track in update.tracks)
    return KeptUpdate(replace(update, tracks=tracks), text)


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
        done: Whether it has ended (its thread has closed the source and ends).
        stop: Set to end the session within about an update interval.
        thread: The thread judging it.
    """

    session_id: str
    owner: str
    source: str
    updates: deque[KeptUpdate] = field(default_factory=lambda: deque(maxlen=KEPT_UPDATES))
    seq: int = 0
    error: str | None = None
    done: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


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
        state = self._reserve(owner=owner, source=describe(url))
        runner = self._runner
        self._launch(state, lambda: runner(url, self.limits.max_seconds, state.stop))
        return state

    def start_feed(self, *, owner: str, feed: FrameFeed, source: str) -> LiveSessionState:
        """Check the limits, then start judging the frames a client pushes into ``feed``.

        Raises:
            LiveRequestError: This service runs no camera or screen sessions.
            TooManyLiveSessions: Over a limit.
        """
        runner = self.feed_runner
        if runner is None:
            raise LiveRequestError("this service does not run camera sessions")
        state = self._reserve(owner=owner, source=source)
        self._launch(state, lambda: runner(feed, self.limits.max_seconds, state.stop))
        return state

    def _reserve(self, *, owner: str, source: str) -> LiveSessionState:
        """Count a session against the limits.

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

    def _launch(self, state: LiveSessionState, updates: Callable[[], Iterator[LiveUpdate]]) -> None:
        # The session's updates are made, encoded and closed on this one thread, never on the
        # event loop's worker threads, so that stop_all can wait for every one of them.
        state.thread = threading.Thread(
            target=self._run, args=(state, updates), name=f"live-{state.session_id[:8]}",
            daemon=True,
        )  # fmt: skip
        state.thread.start()

    def _run(self, state: LiveSessionState, make: Callable[[], Iterator[LiveUpdate]]) -> None:
        encoder = UpdateEncoder()
        updates: Iterator[LiveUpdate] | None = None
        error: str | None = None
        try:
            updates = make()
            for update in updates:
                kept = _keep(update, encoder)
                with self._changed:
                    state.updates.append(kept)
                    state.seq = update.seq
                    self._changed.notify_all()
                if state.stop.is_set():
                    break
        except DeepverifyError as exc:
            error = str(exc)
        except Exception:  # a session's failure must not go unseen, nor stop the service
            logger.exception("live session %s failed", state.session_id)
            error = "the live session failed; see the service's log"
        finally:
            try:
                close = getattr(updates, "close", None)
                if close is not None:
                    close()
            except Exception:  # listeners must still learn that it ended
                logger.exception("live session %s did not close cleanly", state.session_id)
            with self._changed:
                state.error = error
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
        """Updates newer than ``after``, waiting up to ``timeout`` s for one (empty: none).

        They come without their heatmap images (:meth:`wait_kept` has what is sent of them).
        """
        return [kept.update for kept in self.wait_kept(state, after, timeout)]

    def wait_kept(self, state: LiveSessionState, after: int, timeout: float) -> list[KeptUpdate]:
        """:meth:`wait`, each update with its JSON for listeners."""
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

    def stop_all(self, timeout: float = SHUTDOWN_WAIT_S) -> None:
        """Stop every session and wait for its thread to end (the service shuts down).

        A stopped session ends within about an update interval (the frame in hand is judged
        first). Waiting matters: a thread still inside ONNX Runtime or OpenCV when the process
        exits aborts it ("terminate called without an active exception"). One still running
        after ``timeout`` seconds in all is logged.
        """
        with self._lock:
            states = list(self._sessions.values())
        for state in states:
            state.stop.set()
        deadline = time.monotonic() + timeout
        for state in states:
            if state.thread is not None:
                state.thread.join(max(0.0, deadline - time.monotonic()))
        left = [s.session_id[:8] for s in states if s.thread is not None and s.thread.is_alive()]
        if left:
            logger.error("live sessions %s still running after %g s", ", ".join(left), timeout)
