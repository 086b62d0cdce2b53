"""``/api/videos``: upload, list, read, delete, the report page, heatmap images, live progress.

Every query is scoped to the caller: another user's video id answers 404, exactly like an id
that does not exist. Report pages and images are streamed from the object store through the API
(never a link into the store), so the same check guards them on every backend; an unavailable
store answers 503 (:func:`deepverify.service.api.hygiene.storage_unavailable`). Every endpoint,
the event stream, report page and images included, takes the bearer token in the
``Authorization`` header: the web UI reads them with ``fetch``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent

from deepverify.report.schema import Report
from deepverify.service.api.deps import (
    CurrentUser,
    DispatcherDep,
    SessionDep,
    SessionFactoryDep,
    SettingsDep,
)
from deepverify.service.api.schemas import (
    Message,
    VideoAccepted,
    VideoEvent,
    VideoPublic,
    VideosPublic,
    VideoSummary,
)
from deepverify.service.core.models import FINISHED_STATUSES, JobStatus, User, Video
from deepverify.service.core.objects import ObjectMissingError, open_store
from deepverify.service.core.uploads import TooManyPendingError, UploadError
from deepverify.service.jobs.queue import stage_progress
from deepverify.service.services import videos as videos_service

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/videos", tags=["videos"])

EVENT_POLL_S = 0.5
MAX_SKIP = 1_000_000  # far beyond any listing; keeps the offset inside the database's integer
EVENT_MAX_S = 6 * 3600
_NOT_FOUND = "video not found"
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "contentMediaType": "application/octet-stream",
                        "description": "the video file (MP4, MOV, MKV, AVI, WebM...)",
                    }
                },
            }
        }
    },
}
_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": Message}, 404: {"model": Message}}


def _report(video: Video) -> Report | None:
    if video.status != JobStatus.DONE.value or video.report is None:
        return None
    try:
        return Report.model_validate(video.report)
    except ValidationError:  # written by an incompatible version: the page still works
        logger.warning("stored report of %s does not match the report schema", video.id)
        return None


def to_public(video: Video) -> VideoPublic:
    """The API view of a video, with the URLs of its report page and images once done."""
    done = video.status == JobStatus.DONE.value and video.report is not None
    base = f"/api/videos/{video.id}"
    return VideoPublic.model_validate(
        {
            **VideoSummary.model_validate(video).model_dump(),
            "progress": stage_progress(video.progress),
            "media": video.media or {},
            "started_at": video.started_at,
            "updated_at": video.updated_at,
            "report": _report(video),
            "report_html_url": f"{base}/report.html" if done else None,
            "image_base_url": f"{base}/images/" if done else None,
        }
    )


def _owned(session: SessionDep, user: User, video_id: str) -> Video:
    video = videos_service.get_video(session=session, owner_id=user.id, video_id=video_id)
    if video is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _NOT_FOUND)
    return video


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=VideoAccepted,
    operation_id="videos_upload",
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={
        400: {"model": Message},
        401: {"model": Message},
        413: {"model": Message},
        415: {"model": Message},
        429: {"model": Message},
    },
)
async def upload_video(
    request: Request,
    user: CurrentUser,
    settings: SettingsDep,
    factory: SessionFactoryDep,
    dispatcher: DispatcherDep,
) -> VideoAccepted:
    """Upload a video (multipart field ``file``) and queue its analysis.

    The body is streamed to disk up to the size limit (413 beyond), then probed: anything that is
    not a decodable video answers 415 with the reason. Uploading the same content again returns
    the earlier video (``duplicate: true``). A user with too many videos waiting gets 429.
    """
    try:
        accepted = await videos_service.accept_upload(
            body=request.stream(),
            content_type=request.headers.get("content-type"),
            content_length=request.headers.get("content-length"),
            owner=user,
            settings=settings,
            session_factory=factory,
            enqueue=dispatcher.enqueue,
        )
    except TooManyPendingError as exc:
        retry = {"Retry-After": str(exc.retry_after_s)}
        raise HTTPException(exc.status_code, str(exc), headers=retry) from exc
    except UploadError as exc:
        raise HTTPException(exc.status_code, str(exc)) from exc
    return VideoAccepted(id=accepted.video_id, status=accepted.status, duplicate=accepted.duplicate)


@router.get("", response_model=VideosPublic, operation_id="videos_list", responses=_ERRORS)
def list_videos(
    session: SessionDep,
    user: CurrentUser,
    skip: Annotated[int, Query(ge=0, le=MAX_SKIP)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> VideosPublic:
    """The caller's videos, newest first, one page at a time."""
    rows, total = videos_service.list_videos(session=session, owner=user, skip=skip, limit=limit)
    data = [VideoSummary.model_validate(row) for row in rows]
    return VideosPublic(data=data, count=total, skip=skip, limit=limit)


@router.get("/{video_id}", response_model=VideoPublic, operation_id="videos_get", responses=_ERRORS)
def get_video(video_id: str, session: SessionDep, user: CurrentUser) -> VideoPublic:
    """A video's job status, progress per stage, error, and the report once done."""
    return to_public(_owned(session, user, video_id))


@router.delete(
    "/{video_id}", response_model=Message, operation_id="videos_delete", responses=_ERRORS
)
def delete_video(
    video_id: str, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> Message:
    """Delete a video, its upload and its results."""
    video = _owned(session, user, video_id)
    videos_service.delete_video(session=session, settings=settings, video=video)
    return Message(detail="video deleted")


def _done(session: SessionDep, user: User, video_id: str) -> Video:
    video = _owned(session, user, video_id)
    if video.status != JobStatus.DONE.value or video.report is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"the analysis is {video.status}, not done")
    return video


@router.get(
    "/{video_id}/report.html",
    response_class=HTMLResponse,
    response_model=None,
    operation_id="videos_report_html",
    responses={200: {"content": {"text/html": {}}}, **_ERRORS},
)
def report_html(
    video_id: str, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> HTMLResponse:
    """The self-contained HTML report (images embedded)."""
    video = _done(session, user, video_id)
    name = (video.report or {}).get("report_html", "report.html")
    try:
        page = b"".join(open_store(settings).open_result(video.id, name).chunks)
    except ObjectMissingError as exc:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "the report page is missing on the server"
        ) from exc
    return HTMLResponse(
        page.decode("utf-8"),
        headers={
            # Self-contained: nothing to load, nothing to run.
            "Content-Security-Policy": "default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'; frame-ancestors 'self'",
            "X-Frame-Options": "SAMEORIGIN",  # the UI frames it; nobody else
        },
    )


@router.get(
    "/{video_id}/images/{image_path:path}",
    response_class=StreamingResponse,
    response_model=None,
    operation_id="videos_image",
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, **_ERRORS},
)
def report_image(
    video_id: str, image_path: str, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> StreamingResponse:
    """An image the report names (heatmap, face crop, frame with or without overlay, timeline)."""
    video = _done(session, user, video_id)
    report = _report(video)
    if report is None or image_path not in report.image_paths():  # only files it names
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such image in this report")
    try:
        image = open_store(settings).open_result(video.id, image_path)
    except ObjectMissingError as exc:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "the image is missing on the server"
        ) from exc
    media_type = mimetypes.guess_type(image_path)[0] or "application/octet-stream"
    return StreamingResponse(
        image.chunks,
        media_type=media_type,
        headers={"Content-Length": str(image.size), "X-Content-Type-Options": "nosniff"},
    )


def _event(video: Video) -> VideoEvent:
    return VideoEvent(
        id=video.id,
        status=video.status,
        stage=video.stage,
        progress=stage_progress(video.progress),
        error=video.error,
        verdict=video.verdict,
        probability=video.probability,
    )


@router.get(
    "/{video_id}/events",
    response_class=EventSourceResponse,
    response_model=VideoEvent,
    operation_id="videos_events",
    responses={
        200: {
            "description": "`progress` events (a VideoEvent each) until `done` (the VideoPublic)",
            "content": {"text/event-stream": {}},
        },
        **_ERRORS,
    },
)
def video_events(
    video_id: str, session: SessionDep, factory: SessionFactoryDep, user: CurrentUser
) -> EventSourceResponse:
    """Server-Sent Events: ``progress`` whenever the job changes, then one ``done`` and the end.

    ``done`` carries the full video (report included) whether the job succeeded or failed.
    """
    _owned(session, user, video_id)
    session.close()  # the stream polls with short sessions of its own; hold no connection

    def load() -> Video | None:
        with factory() as own:
            return videos_service.get_video(session=own, owner_id=user.id, video_id=video_id)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        last: str | None = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EVENT_MAX_S
        while loop.time() < deadline:
            video = await run_in_threadpool(load)
            if video is None:
                yield ServerSentEvent(json.dumps({"detail": _NOT_FOUND}), event="deleted")
                return
            payload = _event(video).model_dump_json()
            if payload != last:
                last = payload
                yield ServerSentEvent(payload, event="progress")
            if video.status in FINISHED_STATUSES:
                yield ServerSentEvent(to_public(video).model_dump_json(), event="done")
                return
            await asyncio.sleep(EVENT_POLL_S)

    return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store"})
