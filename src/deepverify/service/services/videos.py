"""Video operations, always scoped to their owner: another user's video does not exist."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from deepverify.service.core import storage
from deepverify.service.core.models import PENDING_STATUSES, JobStatus, User, Video
from deepverify.service.core.objects import StorageUnavailableError, open_store
from deepverify.service.core.settings import Settings
from deepverify.service.core.uploads import (
    MediaLimits,
    ReceivedFile,
    TooManyPendingError,
    UploadError,
    UploadTimeoutError,
    probe_upload,
    receive_file,
)
from deepverify.service.jobs.queue import stage_progress

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    """The video an upload was accepted as, and whether it is the owner's earlier identical one."""

    video_id: str
    status: str
    duplicate: bool


def find_duplicate(*, session: Session, owner: User, sha256: str) -> Video | None:
    """The owner's newest earlier upload of the same content that has not failed, if any."""
    return session.scalar(
        select(Video)
        .where(
            Video.owner_id == owner.id,
            Video.sha256 == sha256,
            Video.status != JobStatus.FAILED.value,
        )
        .order_by(Video.created_at.desc())
        .limit(1)
    )


def count_pending(*, session: Session, owner: User) -> int:
    """How many of the owner's videos are queued or running."""
    total = session.scalar(
        select(func.count())
        .select_from(Video)
        .where(Video.owner_id == owner.id, Video.status.in_(PENDING_STATUSES))
    )
    return int(total or 0)


def create_video(
    *,
    session: Session,
    settings: Settings,
    owner: User,
    received: ReceivedFile,
    media: dict[str, Any],
) -> Video:
    """Put a probed upload into the object store under a generated name and queue its analysis.

    The file is stored first (a transfer to S3 may take a while and must not hold a lock), then
    counting the owner's pending videos and inserting this one are one step: the owner's row is
    written first (a row lock on PostgreSQL, the database's write lock on SQLite) and held until
    the commit, so concurrent uploads of one owner pass the count one at a time. A refused or
    failed insert deletes the stored object again.

    Raises:
        TooManyPendingError: the owner already has as many videos waiting as allowed.
        StorageUnavailableError: the object store cannot take the file now.
    """
    store = open_store(settings)
    storage_name = storage.new_storage_name()
    store.store_upload(received.path, storage_name)
    try:
        session.execute(
            update(User).where(User.id == owner.id).values(token_version=User.token_version)
        )
        _refuse_if_too_many(count_pending(session=session, owner=owner), settings)
        video = Video(
            owner_id=owner.id,
            filename=received.filename,
            content_type=received.content_type,
            size_bytes=received.size_bytes,
            sha256=received.sha256,
            storage_name=storage_name,
            media=media,
            status=JobStatus.QUEUED.value,
            progress=stage_progress(),
        )
        session.add(video)
        session.commit()
    except BaseException:
        session.rollback()
        try:
            store.delete_upload(storage_name)
        except StorageUnavailableError:
            logger.warning("could not delete the refused upload %s", storage_name, exc_info=True)
        raise
    return video


def list_videos(*, session: Session, owner: User, skip: int, limit: int) -> tuple[list[Video], int]:
    """One page of the owner's videos, newest first, and how many they have in all."""
    total = session.scalar(
        select(func.count()).select_from(Video).where(Video.owner_id == owner.id)
    )
    rows = session.scalars(
        select(Video)
        .where(Video.owner_id == owner.id)
        .order_by(Video.created_at.desc(), Video.id.desc())
        .offset(skip)
        .limit(limit)
    ).all()
    return list(rows), int(total or 0)


def get_video(*, session: Session, owner_id: str, video_id: str) -> Video | None:
    """The video if it exists *and* belongs to ``owner_id``; None otherwise (-> 404)."""
    return session.scalar(select(Video).where(Video.id == video_id, Video.owner_id == owner_id))


def delete_video(*, session: Session, settings: Settings, video: Video) -> None:
    """Delete the stored upload and results, then the row (a running job's output is dropped).

    The objects go first, so an unavailable store refuses the deletion with the row intact (the
    user can try again) instead of leaving objects nobody knows of. They are swept once more
    after the row is gone: a job finishing meanwhile may have published its results (a job
    finishing later finds the row gone and deletes its own).

    Raises:
        StorageUnavailableError: the object store cannot delete now; nothing was deleted.
    """
    store = open_store(settings)
    video_id, storage_name = video.id, video.storage_name
    store.delete_video(video_id=video_id, storage_name=storage_name)
    session.delete(video)
    session.commit()
    store.delete_video(video_id=video_id, storage_name=storage_name)


def check_pending(
    *, session_factory: sessionmaker[Session], settings: Settings, owner: User
) -> None:
    """Refuse a new upload while the owner has as many videos waiting as allowed.

    Raises:
        TooManyPendingError: the owner's queued and running videos reach the limit.
    """
    with session_factory() as session:
        _refuse_if_too_many(count_pending(session=session, owner=owner), settings)


def _refuse_if_too_many(pending: int, settings: Settings) -> None:
    if pending >= settings.max_pending_jobs_per_user:
        raise TooManyPendingError(
            f"you already have {pending} videos waiting for analysis (the limit); upload more "
            "once they are done"
        )


async def accept_upload(
    *,
    body: AsyncIterator[bytes],
    content_type: str | None,
    content_length: str | None,
    owner: User,
    settings: Settings,
    session_factory: sessionmaker[Session],
    enqueue: Callable[[str], None],
) -> Accepted:
    """Receive a multipart upload, check it is a video within the limits, and queue its analysis.

    The pending-jobs limit is checked before the body is read and again before the video is
    recorded. The body is streamed to a private file up to ``settings.max_upload_bytes`` within
    ``settings.upload_timeout_seconds``, probed by content, then put into the object store. The
    same content uploaded again by the same owner returns the earlier video (``duplicate``)
    unless that one failed.

    Raises:
        UploadError: why the upload was refused; its ``status_code`` is the HTTP answer (400,
            408, 413, 415 or 429).
        StorageUnavailableError: the object store cannot take the file now (503).
    """
    await run_in_threadpool(
        check_pending, session_factory=session_factory, settings=settings, owner=owner
    )
    with storage.receiving(storage.incoming_dir(settings)) as part:  # removed unless stored
        try:
            received = await asyncio.wait_for(
                receive_file(
                    body=body,
                    content_type=content_type,
                    content_length=content_length,
                    part=part,
                    max_bytes=settings.max_upload_bytes,
                ),
                timeout=settings.upload_timeout_seconds,
            )
        except TimeoutError as exc:
            raise UploadTimeoutError(
                f"the upload took longer than {settings.upload_timeout_seconds:g} s; send it "
                "again over a faster connection"
            ) from exc
        return await run_in_threadpool(
            _record, session_factory=session_factory, settings=settings, owner=owner,
            received=received, enqueue=enqueue,
        )  # fmt: skip


def _record(
    *,
    session_factory: sessionmaker[Session],
    settings: Settings,
    owner: User,
    received: ReceivedFile,
    enqueue: Callable[[str], None],
) -> Accepted:
    """Probe, record and queue a received file, or return the owner's earlier identical upload."""
    with session_factory() as session:
        earlier = find_duplicate(session=session, owner=owner, sha256=received.sha256)
        if earlier is not None:
            return Accepted(video_id=earlier.id, status=earlier.status, duplicate=True)
    check_pending(session_factory=session_factory, settings=settings, owner=owner)
    try:
        media = probe_upload(received.path, limits=MediaLimits.from_settings(settings))
    except UploadError as exc:
        # The decoder names the stored file; the user knows it by their own name.
        raise type(exc)(str(exc).replace(received.path.name, received.filename)) from exc
    with session_factory() as session:
        video = create_video(
            session=session, settings=settings, owner=owner, received=received, media=media
        )
        accepted = Accepted(video_id=video.id, status=video.status, duplicate=False)
    enqueue(accepted.video_id)  # may wait on the broker: off the event loop
    return accepted
