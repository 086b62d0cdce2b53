"""Live sessions: start one from a stream URL, follow its updates by server-sent events, stop it.

A session belongs to the user who started it; to anyone else it does not exist (404).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections import deque
from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect, status
from fastapi.websockets import WebSocketState
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from deepverify.live.feed import FrameFeed, LiveFrameError
from deepverify.live.options import DEFAULT_FPS
from deepverify.service.api.deps import CurrentUser, LiveDep, user_from_token
from deepverify.service.services.live import (
    LiveLimits,
    LiveRequestError,
    LiveSessions,
    LiveSessionState,
    TooManyLiveSessions,
)

router = APIRouter(prefix="/live", tags=["live"])

_NOT_FOUND = "live session not found"
_WAIT_S = 5.0  # one wait for updates; the stream pings in between


class LiveCreate(BaseModel):
    """What to watch."""

    url: str = Field(min_length=1, max_length=2048, description="rtsp, rtmp, http(s), srt, udp")


class LivePublic(BaseModel):
    """A live session as its owner sees it."""

    id: str
    source: str = Field(description="The URL without credentials.")
    updates: int = Field(description="Updates so far.")
    done: bool
    error: str | None = None


def _public(state: LiveSessionState) -> LivePublic:
    return LivePublic(
        id=state.session_id, source=state.source, updates=state.seq, done=state.done,
        error=state.error,
    )  # fmt: skip


def _owned(live: LiveDep, user: CurrentUser, session_id: str) -> LiveSessionState:
    state = live.get(session_id, str(user.id))
    if state is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _NOT_FOUND)
    return state


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="live_start",
    responses={400: {"description": "URL refused"}, 429: {"description": "Too many sessions"}},
)
async def start_live(body: LiveCreate, live: LiveDep, user: CurrentUser) -> LivePublic:
    """Start judging a stream; its updates come from ``GET /live/{id}/events``."""
    try:
        # Resolving the host name blocks: off the event loop.
        state = await run_in_threadpool(lambda: live.start(owner=str(user.id), url=body.url))
    except LiveRequestError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    except TooManyLiveSessions as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc)) from None
    return _public(state)


@router.get("/{session_id}", operation_id="live_get")
def get_live(session_id: str, live: LiveDep, user: CurrentUser) -> LivePublic:
    """The session's state."""
    return _public(_owned(live, user, session_id))


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="live_stop")
def stop_live(session_id: str, live: LiveDep, user: CurrentUser) -> None:
    """Stop the session (it ends within a second)."""
    _owned(live, user, session_id)
    live.stop(session_id, str(user.id))


@router.get(
    "/{session_id}/events",
    response_class=EventSourceResponse,
    operation_id="live_events",
    responses={200: {"description": "update events, then one end event",
                     "content": {"text/event-stream": {}}}},
)  # fmt: skip
def live_events(
    session_id: str, live: LiveDep, user: CurrentUser, after: int = 0
) -> EventSourceResponse:
    """The session's updates as server-sent events, then one ``end`` event with its state.

    Each ``update`` event is the JSON ``deepverify live --json`` prints, where a face may also
    carry ``heatmap``: its latest crop with the heatmap of where the model looked, a JPEG
    ``data:`` URL at most 160 px a side, sent only when the face has a newer frame than the
    last one sent (keep showing the last; none when the service's ``DEEPVERIFY_LIVE_HEATMAPS``
    is off). ``after`` resumes after an update number: a reconnecting client passes the last
    one it saw (the latest are kept).
    """
    state = _owned(live, user, session_id)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        seen = after
        while True:
            updates = await run_in_threadpool(live.wait_kept, state, seen, _WAIT_S)
            for update in updates:
                seen = update.seq
                yield ServerSentEvent(update.json, event="update", id=str(seen))
            if state.done and state.seq <= seen:
                yield ServerSentEvent(_public(state).model_dump_json(), event="end")
                return
            await asyncio.sleep(0)

    return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store"})


CAMERA_SOURCE = "camera or screen (pushed frames)"
_AUTH_WAIT_S = 10.0
_POLICY = 1008  # WebSocket close code: policy violation
_TRY_LATER = 1013


@router.websocket("/camera")
async def live_camera(websocket: WebSocket) -> None:
    """A live session on frames the browser pushes (camera or shared screen).

    Protocol: the first message is text ``{"token": "<API token>"}``; then each frame is one
    binary message, 8 bytes of capture time (milliseconds, little-endian float64) followed by
    the JPEG. The server sends text messages: ``{"update": {...}}`` (as the ``update`` events of
    ``GET /live/{id}/events``, heatmaps included), ``{"error": "..."}`` for a refused frame (the
    session goes on), and ``{"end": {"error": ...}}`` before it closes when the session ends by
    itself. Frames over the size or rate limit are refused one by one.
    """
    live: LiveSessions = websocket.app.state.live
    await websocket.accept()
    user_id = await _authenticate(websocket)
    if user_id is None:
        return
    feed = FrameFeed(fps=DEFAULT_FPS)
    try:
        session = live.start_feed(owner=user_id, feed=feed, source=CAMERA_SOURCE)
    except LiveRequestError as exc:
        await _refuse(websocket, str(exc), _POLICY)
        return
    except TooManyLiveSessions as exc:
        await _refuse(websocket, str(exc), _TRY_LATER)
        return
    sender = asyncio.create_task(_send_updates(websocket, live, session))
    try:
        await _receive_frames(websocket, feed, live.limits, sender)
    finally:  # the client left, or the session ended: its thread ends within an update
        feed.end()
        session.stop.set()


async def _authenticate(websocket: WebSocket) -> str | None:
    """The user id from the first message's token; None after closing with the reason."""
    app = websocket.app.state
    try:
        first = await asyncio.wait_for(websocket.receive(), _AUTH_WAIT_S)
    except TimeoutError:
        await _refuse(websocket, 'sign in first: send {"token": ...} as the first message', _POLICY)
        return None
    try:
        token = json.loads(first.get("text") or "")["token"]
        if not isinstance(token, str):
            raise TypeError(token)
    except (ValueError, KeyError, TypeError):
        await _refuse(websocket, 'sign in first: send {"token": ...} as the first message', _POLICY)
        return None
    try:
        user = await run_in_threadpool(
            user_from_token, token, settings=app.settings, oidc=app.oidc,
            factory=app.session_factory,
        )  # fmt: skip
    except HTTPException as exc:
        await _refuse(websocket, str(exc.detail), _POLICY)
        return None
    return str(user.id)


async def _refuse(websocket: WebSocket, message: str, code: int) -> None:
    await websocket.send_json({"error": message})
    await websocket.close(code=code, reason=message[:120])


async def _receive_frames(
    websocket: WebSocket, feed: FrameFeed, limits: LiveLimits, sender: asyncio.Task[str | None]
) -> None:
    """Push each frame into the feed, refusing bad ones one by one, until either side ends."""
    recent: deque[float] = deque()
    loop = asyncio.get_running_loop()
    while not sender.done():
        receiving = asyncio.ensure_future(websocket.receive())
        await asyncio.wait({receiving, sender}, return_when=asyncio.FIRST_COMPLETED)
        if not receiving.done():
            receiving.cancel()
            return
        message = receiving.result()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        problem = _frame_problem(data, limits, recent, loop.time())
        if problem is None and data is not None:
            try:
                feed.push(data[8:], struct.unpack("<d", data[:8])[0] / 1000.0)
            except LiveFrameError as exc:
                problem = str(exc)
        if problem is not None:
            await websocket.send_json({"error": problem})


def _frame_problem(
    data: bytes | None, limits: LiveLimits, recent: deque[float], now: float
) -> str | None:
    """Why a message is refused (size, rate, shape), or None."""
    if data is None:
        return "send frames as binary messages: 8 bytes of capture time, then the JPEG"
    if len(data) > limits.max_frame_bytes:
        return (
            f"a frame of {len(data)} bytes is over the {limits.max_frame_bytes}-byte limit; "
            "send smaller JPEGs"
        )
    while recent and recent[0] <= now - 1.0:
        recent.popleft()
    if len(recent) >= limits.max_frames_per_second:
        return f"more than {limits.max_frames_per_second:g} frames a second; send fewer"
    recent.append(now)
    if len(data) <= 8:
        return "a frame is 8 bytes of capture time followed by the JPEG"
    return None


async def _send_updates(
    websocket: WebSocket, live: LiveSessions, session: LiveSessionState
) -> None:
    """Send the session's updates as they come (it runs on its own thread), then its end."""
    seen = 0
    while not (session.done and session.seq <= seen):
        for update in await run_in_threadpool(live.wait_kept, session, seen, _WAIT_S):
            seen = update.seq
            if websocket.client_state is WebSocketState.DISCONNECTED:
                return
            try:
                await websocket.send_text(f'{{"update": {update.json}}}')
            except (WebSocketDisconnect, RuntimeError):  # the client left meanwhile
                return
    # Ended by itself (its maximum length, a failure: the client is told, not left waiting).
    if websocket.client_state is not WebSocketState.DISCONNECTED:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.send_json({"end": {"error": session.error}})
            await websocket.close()
