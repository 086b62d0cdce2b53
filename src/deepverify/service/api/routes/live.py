"""Live sessions: start one from a stream URL, follow its updates by server-sent events, stop it.

A session belongs to the user who started it; to anyone else it does not exist (404).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from deepverify.service.api.deps import CurrentUser, LiveDep
from deepverify.service.services.live import (
    LiveRequestError,
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


@router.get("/{session_id}")
def get_live(session_id: str, live: LiveDep, user: CurrentUser) -> LivePublic:
    """The session's state."""
    return _public(_owned(live, user, session_id))


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def stop_live(session_id: str, live: LiveDep, user: CurrentUser) -> None:
    """Stop the session (it ends within a second)."""
    _owned(live, user, session_id)
    live.stop(session_id, str(user.id))


@router.get(
    "/{session_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"description": "update events, then one end event",
                     "content": {"text/event-stream": {}}}},
)  # fmt: skip
def live_events(
    session_id: str, live: LiveDep, user: CurrentUser, after: int = 0
) -> EventSourceResponse:
    """The session's updates as server-sent events, then one ``end`` event with its state.

    Each ``update`` event is the JSON ``deepverify live --json`` prints. ``after`` resumes after
    an update number: a reconnecting client passes the last one it saw (the latest are kept).
    """
    state = _owned(live, user, session_id)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        seen = after
        while True:
            updates = await run_in_threadpool(live.wait, state, seen, _WAIT_S)
            for update in updates:
                seen = update.seq
                yield ServerSentEvent(json.dumps(update.to_dict()), event="update", id=str(seen))
            if state.done and state.seq <= seen:
                yield ServerSentEvent(_public(state).model_dump_json(), event="end")
                return
            await asyncio.sleep(0)

    return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store"})
