"""Housekeeping against leftovers and oversized bodies: start-up sweep, JSON body cap.

A crash can leave a half-received upload (``uploads/incoming/*.part``) or a half-written result
folder (``results/<id>.<worker>.tmp``); nothing else ever removes them. Only leftovers older
than what a live upload or job could still be writing are swept, so a restart next to other
live processes sharing the home folder is safe.
"""

from __future__ import annotations

import logging
import shutil
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deepverify.service import storage
from deepverify.service.settings import Settings

logger = logging.getLogger(__name__)


def sweep_leftovers(settings: Settings, *, now: float | None = None) -> int:
    """Delete stale ``.part`` uploads and ``.tmp`` result folders; return how many."""
    now = time.time() if now is None else now
    removed = 0
    for part in storage.incoming_parts(settings):
        if now - part.stat().st_mtime > settings.upload_timeout_seconds:
            part.unlink(missing_ok=True)
            removed += 1
    for folder in storage.work_dirs(settings):
        if now - folder.stat().st_mtime > settings.job_lease_seconds:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    if removed:
        logger.warning("removed %d leftover upload/result files of an earlier crash", removed)
    return removed


class BodyLimit:
    """ASGI middleware: 413 for a non-upload request body declared larger than ``max_bytes``.

    Uploads (multipart) have their own streamed limit; everything else the API accepts is a
    small JSON or form body. A body without a declared length is cut off at the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 413 once its body exceeds the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        if headers.get(b"content-type", b"").startswith(b"multipart/form-data"):
            await self.app(scope, receive, send)
            return
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
