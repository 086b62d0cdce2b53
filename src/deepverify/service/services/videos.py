"""Video operations, always scoped to their owner: another user's video does not exist."""

from __future__ import annotations

import logging
import shutil
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deepverify.service.jobs import result_dir, stage_progress, upload_path
from deepverify.service.models import JobStatus, User, Video
from deepverify.service.settings import Settings
from deepverify.service.uploads import ReceivedFile

logger = logging.getLogger(__name__)


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
    pending = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
    total = session.scalar(
        select(func.count())
        .select_from(Video)
        .where(Video.owner_id == owner.id, Video.status.in_(pending))
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
    """Move a probed upload into storage under a generated name and queue its analysis."""
    storage_name = uuid.uuid4().hex
    target = settings.uploads_dir / storage_name
    received.path.replace(target)
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
    try:
        session.commit()
    except BaseException:
        session.rollback()
        target.unlink(missing_ok=True)
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
    """Delete the row, the stored upload and the results (a running job's output is dropped)."""
    files = [upload_path(settings, video)]
    results = result_dir(settings, video.id)
    session.delete(video)
    session.commit()
    for path in files:
        path.unlink(missing_ok=True)
    shutil.rmtree(results, ignore_errors=True)
    for leftover in settings.results_dir.glob(f"{video.id}.*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)
