"""Housekeeping against leftovers and oversized bodies: sweeps, body cap, short 422s, 503s.

The 503s answer an object store that is away (:func:`storage_unavailable`).

A crash can leave a half-received upload (``uploads/incoming/*.part``) or a half-written result
folder (``results/<id>.<worker>.tmp``); nothing else ever removes them. A ``.part`` is swept
when no process holds its lock (:func:`deepverify.service.core.storage.remove_if_abandoned`),
whatever its age; a result folder when it is older than a live job could still be writing. A
restart next to other live processes sharing the home folder is safe.

A crash (or a store that failed mid-deletion) can also leave stored objects that no video row
names: an upload stored just before the API died, before its row was committed, or results a
deletion could not reach. :func:`sweep_orphans` deletes those once they are
:data:`ORPHAN_GRACE_S` old, long past any upload still being committed by a live process; the API
runs it at start-up and then every ``orphan_sweep_interval_seconds``
(:func:`sweep_orphans_periodically`), since a worker killed mid-job leaves them while the API
keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from collections.abc import Iterable

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deepverify.service.core import storage
from deepverify.service.core.models import Video
from deepverify.service.core.objects import StorageUnavailableError, open_store
from deepverify.service.core.settings import Settings

logger = logging.getLogger(__name__)

ORPHAN_GRACE_S = 3600.0
_IN_BATCH = 500  # names per IN (...) query


def sweep_leftovers(settings: Settings, *, now: float | None = None) -> int:
    """Delete abandoned ``.part`` uploads and stale ``.tmp`` result folders; return how many."""
    now = time.time() if now is None else now
    removed = sum(storage.remove_if_abandoned(part) for part in storage.incoming_parts(settings))
    for folder in storage.work_dirs(settings):
        if now - folder.stat().st_mtime > settings.job_lease_seconds:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    if removed:
        logger.warning("removed %d leftover upload/result files of an earlier crash", removed)
    return removed


def sweep_orphans(
    session_factory: sessionmaker[Session], settings: Settings, *, now: float | None = None
) -> int:
    """Delete stored uploads and results no video row names, once ORPHAN_GRACE_S old.

    Returns how many uploads and result sets were deleted. An unreachable store or database is
    logged and skipped (the next sweep tries again): housekeeping never stops the service.
    """
    now = time.time() if now is None else now
    store = open_store(settings)
    uploads: set[str] = set()
    results: set[str] = set()
    try:
        for entry in store.objects():
            if now - entry.modified < ORPHAN_GRACE_S:
                continue
            kind, _, rest = entry.key.partition("/")
            if kind == "uploads" and rest:
                uploads.add(rest)
            elif kind == "results" and "/" in rest:
                results.add(rest.split("/", 1)[0])
        with session_factory() as session:
            uploads -= _existing(session, Video.storage_name, uploads)
            results -= _existing(session, Video.id, results)
        for name in sorted(uploads):
            store.delete_upload(name)
        for video_id in sorted(results):
            store.delete_results(video_id)
    except (StorageUnavailableError, SQLAlchemyError) as exc:
        logger.warning("could not sweep the object store for orphaned objects: %s", exc)
        return 0
    if uploads or results:
        logger.warning(
            "removed %d upload(s) and the results of %d video(s) that no video row names",
            len(uploads),
            len(results),
        )
    return len(uploads) + len(results)


async def sweep_orphans_periodically(
    session_factory: sessionmaker[Session], settings: Settings, stop: asyncio.Event
) -> None:
    """:func:`sweep_orphans` now, then every ``settings.orphan_sweep_interval_seconds``.

    Returns once ``stop`` is set, after any sweep in progress has finished (its thread uses
    the database, which the caller disposes of next). A sweep that fails in a way
    :func:`sweep_orphans` does not expect is logged, and the next one runs on time: one bad
    listing must not end the sweeping, nor fail the shutdown that waits for it.
    """
    while True:
        try:
            await run_in_threadpool(sweep_orphans, session_factory, settings)
        except Exception:
            logger.exception("the sweep for orphaned objects failed; the next one runs on time")
        try:
            await asyncio.wait_for(stop.wait(), timeout=settings.orphan_sweep_interval_seconds)
        except TimeoutError:
            continue
        return


def _existing(
    session: Session, column: InstrumentedAttribute[str], names: Iterable[str]
) -> set[str]:
    """Those of ``names`` that some video row holds in ``column``."""
    names = sorted(names)
    found: set[str] = set()
    for start in range(0, len(names), _IN_BATCH):
        batch = names[start : start + _IN_BATCH]
        found.update(session.scalars(select(column).where(column.in_(batch))))
    return found


class BodyLimit:
    """ASGI middleware: 413 for a request body larger than ``max_bytes``, except uploads.

    Only ``POST upload_path`` may send a large body (it has its own streamed limit); every other
    request, whatever content type it declares, is a small JSON or form body. Going by the content
    type let anyone send 50 MB as "multipart" to any route. A body declared larger is refused at
    once; one without a declared length is cut off at the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, upload_path: str) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_path = upload_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 413 once its body exceeds the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST" and scope["path"].rstrip("/") == self.upload_path:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(send, self.max_bytes)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, max_bytes: int) -> None:
    body = f'{{"detail":"the request body is larger than {max_bytes} bytes"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def storage_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 with the reason when the object store cannot be used (no traceback, no 500).

    ``Retry-After`` tells clients to come back; the reason names the store, never credentials.
    """
    assert isinstance(exc, StorageUnavailableError)
    logger.warning("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        status_code=503,
        content={"detail": f"storage unavailable: {exc}; try again shortly"},
        headers={"Retry-After": str(STORAGE_RETRY_AFTER_S)},
    )


STORAGE_RETRY_AFTER_S = 30
MAX_ECHOED_INPUT = 200
"""Characters of a refused value a validation error may quote back (the value's JSON form)."""


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 like FastAPI's, but quoting at most :data:`MAX_ECHOED_INPUT` characters of the input.

    FastAPI's own handler echoes every refused value whole: a large body came back as a larger
    error.
    """
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        error = dict(error)
        if "input" in error:
            error["input"] = _short(error["input"])
        errors.append(error)
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})


def _short(value: object) -> object:
    """``value`` if its JSON form is short, else the start of that form, marked as cut."""
    try:
        text = json.dumps(jsonable_encoder(value))
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) <= MAX_ECHOED_INPUT:
        return value
    return text[:MAX_ECHOED_INPUT] + "... (cut)"
