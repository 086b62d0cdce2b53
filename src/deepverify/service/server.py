"""Running the app under uvicorn, with every connection bounded in time and in number.

uvicorn alone lets a client hold a connection for as long as it likes: one that sends nothing,
its headers one line every 10 s, or its body one byte every 10 s stayed open for minutes. Here
each connection must deliver its request line and headers within ``header_timeout_seconds`` and
its body at ``min_body_bytes_per_second`` or faster, judged over each ``body_timeout_seconds``;
an idle kept-alive connection closes after ``keep_alive_seconds``, and beyond
``max_connections`` open connections requests are answered 503. ``X-Forwarded-For`` is believed
only from ``trusted_proxies`` (uvicorn's default believes any loopback client). ``deepverify
serve`` and the tests start the server through :func:`server_config`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from deepverify.service.core.settings import Settings

logger = logging.getLogger(__name__)


class _GuardedH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline on the head and a rate floor on the body."""

    header_timeout_s = 10.0
    body_window_s = 30.0
    min_body_rate = 1024.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._window_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock on the first request's head."""
        super().connection_made(transport)
        self._arm_head()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clocks."""
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Count body bytes; stop the head clock once the head is complete."""
        super().data_received(data)
        if self.conn.their_state is h11.SEND_BODY:
            self._window_bytes += len(data)
            if self._body_timer is None:
                self._head_done()
                self._window_bytes = len(data)
                self._arm_body()
        elif self.conn.their_state is not h11.IDLE:
            self._cancel_timers()  # the whole request is in (or the connection is done)

    def on_response_complete(self) -> None:
        """Start the clock on the next request's head (the keep-alive timer bounds silence)."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._cancel_timers()
            self._arm_head()

    def _arm_head(self) -> None:
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_expired)

    def _head_done(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE:  # h11 leaves IDLE once the whole head is parsed
            self._close("request head not received in time")

    def _arm_body(self) -> None:
        self._body_timer = self.loop.call_later(self.body_window_s, self._body_window_over)

    def _body_window_over(self) -> None:
        self._body_timer = None
        if self.conn.their_state is not h11.SEND_BODY:
            return
        slow = self._window_bytes < self.min_body_rate * self.body_window_s
        if slow and not self.flow.read_paused:  # paused: the app is the slow one, not the client
            self._close("request body arriving too slowly")
            return
        self._window_bytes = 0
        self._arm_body()

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _close(self, why: str) -> None:
        if self.transport.is_closing():
            return
        logger.info("closing a connection from %s: %s", self.client, why)
        self._cancel_timers()
        self.transport.close()  # asyncio then calls connection_lost: the app sees a disconnect


def guarded_protocol(settings: Settings) -> type[H11Protocol]:
    """An HTTP/1.1 protocol class with the settings' head deadline and body rate floor."""
    return type(
        "GuardedH11",
        (_GuardedH11,),
        {
            "header_timeout_s": settings.header_timeout_seconds,
            "body_window_s": settings.body_timeout_seconds,
            "min_body_rate": float(settings.min_body_bytes_per_second),
        },
    )


def server_config(
    app: ASGIApp, settings: Settings, *, port: int | None = None, log_level: str = "warning"
) -> uvicorn.Config:
    """Uvicorn's configuration for ``app``: the settings' address and connection bounds.

    Args:
        app: The ASGI application.
        settings: Host, port and the connection limits.
        port: Overrides ``settings.port`` (0: any free port; tests).
        log_level: uvicorn's log level.
    """
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port if port is None else port,
        log_level=log_level,
        http=guarded_protocol(settings),
        timeout_keep_alive=max(1, round(settings.keep_alive_seconds)),
        limit_concurrency=settings.max_connections,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        timeout_graceful_shutdown=5,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
    )


MAX_HEAD_BYTES = 64 * 1024
"""Largest request line plus headers accepted (h11's own default is 16 KiB; bearer tokens from
some identity providers are long)."""
