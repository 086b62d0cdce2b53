"""Issue 23, attack 4: slow clients against a real server on 127.0.0.1.

A connection that sends nothing, its head one line at a time, or its body one byte at a time is
closed within a bounded time, and open connections beyond the cap get 503. The timeouts are set
small here; ``deepverify serve`` uses the same :func:`server_config` with the settings' defaults.
"""

from __future__ import annotations

import socket
import time

import pytest

HEAD_S, BODY_S, KEEP_ALIVE_S, MAX_CONNECTIONS = 0.6, 0.6, 1.0, 4


@pytest.fixture
def server(live_server) -> int:
    port: int = live_server(
        header_timeout_seconds=HEAD_S,
        body_timeout_seconds=BODY_S,
        min_body_bytes_per_second=64,
        keep_alive_seconds=KEEP_ALIVE_S,
        max_connections=MAX_CONNECTIONS,
    )
    return port


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.settimeout(0.1)
    return sock


def _closed(sock: socket.socket) -> bool:
    """True once the server has closed the connection (whatever it answered first)."""
    try:
        while data := sock.recv(65536):
            del data
        return True
    except TimeoutError:
        return False
    except OSError:
        return True


def _hold(sock: socket.socket, pieces: list[bytes], every_s: float, within_s: float) -> float:
    """Send ``pieces`` one every ``every_s``; seconds until the server closed the connection."""
    started = time.monotonic()
    for piece in pieces:
        if _closed(sock):
            return time.monotonic() - started
        try:
            sock.sendall(piece)
        except OSError:
            return time.monotonic() - started
        time.sleep(every_s)
        if time.monotonic() - started > within_s:
            break
    while time.monotonic() - started < within_s:
        if _closed(sock):
            return time.monotonic() - started
    raise AssertionError(f"the connection was still open after {within_s} s")


@pytest.mark.parametrize("database_url", [None])
def test_a_connection_that_sends_nothing_is_closed(server):
    with _connect(server) as sock:
        assert _hold(sock, [], 0.0, within_s=HEAD_S + 2) >= HEAD_S * 0.8


@pytest.mark.parametrize("database_url", [None])
def test_a_head_sent_one_line_at_a_time_is_cut_off(server):
    lines = [b"GET /api/health HTTP/1.1\r\n"] + [b"X-Slow: %d\r\n" % i for i in range(100)]
    with _connect(server) as sock:
        assert _hold(sock, lines, 0.2, within_s=HEAD_S + 2) < HEAD_S + 1


@pytest.mark.parametrize("database_url", [None])
def test_a_body_sent_one_byte_at_a_time_is_cut_off(server):
    head = (
        b"POST /api/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    with _connect(server) as sock:
        sock.sendall(head)
        assert _hold(sock, [b"{"] * 100, 0.2, within_s=2 * BODY_S + 2) < 2 * BODY_S + 1


@pytest.mark.parametrize("database_url", [None])
def test_a_normal_request_and_an_idle_kept_alive_connection(server):
    with _connect(server) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        sock.settimeout(0.1)
        assert _hold(sock, [], 0.0, within_s=KEEP_ALIVE_S + 2) < KEEP_ALIVE_S + 1.5


@pytest.mark.parametrize("database_url", [None])
def test_connections_beyond_the_cap_get_503(server):
    idle = [_connect(server) for _ in range(MAX_CONNECTIONS)]
    try:
        with _connect(server) as sock:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.settimeout(5)
            assert sock.recv(65536).startswith(b"HTTP/1.1 503")
    finally:
        for sock in idle:
            sock.close()
