"""Claiming jobs: the ``videos`` table is the queue.

A worker *claims* a job with one conditional UPDATE (queued, or running with a stale heartbeat:
its worker died); the claim's ``claimed_by`` is the fencing token
:mod:`deepverify.service.jobs.runner` writes the outcome under. :func:`claim_next` picks whose job
runs next (owners in turn); :func:`stale_jobs` and :func:`queued_jobs` are what the Celery
dispatcher re-sends.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from deepverify.service.core.models import FINISHED_STATUSES, JobStatus, Video, utcnow
from deepverify.service.core.settings import Settings
from deepverify.stages import STAGES


def stage_progress(recorded: dict[str, float] | None = None) -> dict[str, float]:
    """Every pipeline stage in the order it runs, at 0 unless ``recorded`` says otherwise.

    Stages the pipeline does not list (none today) follow, so nothing recorded is hidden.
    """
    return {**dict.fromkeys(STAGES, 0.0), **(recorded or {})}


class Outcome(StrEnum):
    """What :func:`claim_job`, or :mod:`deepverify.service.jobs.runner` running a job, did."""

    DONE = "done"
    FAILED = "failed"
    ALREADY_FINISHED = "already-finished"  # done or failed before: nothing to do (idempotent)
    BUSY = "busy"  # another live worker holds it
    MISSING = "missing"  # deleted
    LOST = "lost"  # our claim was taken over (we were too slow) or the video was deleted
    CANCELLED = "cancelled"  # the video was deleted while it ran: stopped early
    RETRY = "retry"  # the object store was unavailable: taken up again once the lease passes


def new_worker_id(prefix: str = "worker") -> str:
    """A unique claim token for one worker thread or process."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _claimable(cutoff: Any) -> Any:
    stale = or_(Video.heartbeat_at.is_(None), Video.heartbeat_at < cutoff)
    return or_(
        Video.status == JobStatus.QUEUED.value,
        and_(Video.status == JobStatus.RUNNING.value, stale),
    )


def claim_job(
    factory: sessionmaker[Session], *, video_id: str, worker_id: str, settings: Settings
) -> Outcome | None:
    """Claim ``video_id`` for ``worker_id``; None on success, else why it was not claimed."""
    now = utcnow()
    cutoff = now - timedelta(seconds=settings.job_lease_seconds)
    with factory() as session, session.begin():
        claimed = updated_rows(
            session.execute(
                update(Video)
                .where(Video.id == video_id, _claimable(cutoff))
                .values(
                    status=JobStatus.RUNNING.value,
                    claimed_by=worker_id,
                    attempts=Video.attempts + 1,
                    heartbeat_at=now,
                    started_at=now,
                    stage=None,
                    progress=stage_progress(),
                    error=None,
                )
                .execution_options(synchronize_session=False)
            )
        )
        if claimed:
            attempts = session.scalar(select(Video.attempts).where(Video.id == video_id)) or 0
            if attempts > settings.job_max_attempts:
                session.execute(
                    update(Video)
                    .where(Video.id == video_id)
                    .values(
                        status=JobStatus.FAILED.value,
                        error=f"the analysis was interrupted {attempts - 1} times (worker crash "
                        "or restart); giving up: upload the video again to retry",
                        finished_at=now,
                    )
                )
                return Outcome.FAILED
            return None
        status = session.scalar(select(Video.status).where(Video.id == video_id))
    if status is None:
        return Outcome.MISSING
    if status in FINISHED_STATUSES:
        return Outcome.ALREADY_FINISHED
    return Outcome.BUSY


def claim_next(factory: sessionmaker[Session], *, worker_id: str, settings: Settings) -> str | None:
    """Claim the next job, taking owners in turn; its id, or None when there is none.

    Each owner's oldest claimable job is a candidate; the owner served longest ago (or never)
    goes first, so one user's many or large uploads do not make everyone else wait behind them
    (round robin by owner, first come first served within an owner). Jobs of owners who already
    have ``max_running_jobs_per_user`` live jobs wait, so one user's uploads cannot take every
    worker.
    """
    cutoff = utcnow() - timedelta(seconds=settings.job_lease_seconds)
    busy_owners = (
        select(Video.owner_id)
        .where(Video.status == JobStatus.RUNNING.value, Video.heartbeat_at >= cutoff)
        .group_by(Video.owner_id)
        .having(func.count() >= settings.max_running_jobs_per_user)
    )
    ranked = (
        select(
            Video.id,
            Video.owner_id,
            Video.created_at,
            func.row_number()
            .over(partition_by=Video.owner_id, order_by=(Video.created_at, Video.id))
            .label("turn"),
        )
        .where(_claimable(cutoff), Video.owner_id.not_in(busy_owners))
        .subquery()
    )
    served = (
        select(Video.owner_id, func.max(Video.started_at).label("last_started"))
        .group_by(Video.owner_id)
        .subquery()
    )
    with factory() as session:
        candidates = session.scalars(
            select(ranked.c.id)
            .join(served, served.c.owner_id == ranked.c.owner_id, isouter=True)
            .where(ranked.c.turn == 1)
            .order_by(served.c.last_started.asc().nulls_first(), ranked.c.created_at)
            .limit(8)
        ).all()
    for video_id in map(str, candidates):
        outcome = claim_job(factory, video_id=video_id, worker_id=worker_id, settings=settings)
        if outcome is None:
            return video_id
    return None


def stale_jobs(factory: sessionmaker[Session], *, settings: Settings) -> list[str]:
    """Ids of running jobs whose worker stopped beating for longer than the lease."""
    cutoff = utcnow() - timedelta(seconds=settings.job_lease_seconds)
    with factory() as session:
        return list(
            session.scalars(
                select(Video.id)
                .where(
                    Video.status == JobStatus.RUNNING.value,
                    or_(Video.heartbeat_at.is_(None), Video.heartbeat_at < cutoff),
                )
                .order_by(Video.created_at)
            )
        )


def queued_jobs(factory: sessionmaker[Session]) -> list[str]:
    """Ids of every queued job, oldest first."""
    with factory() as session:
        return list(
            session.scalars(
                select(Video.id)
                .where(Video.status == JobStatus.QUEUED.value)
                .order_by(Video.created_at)
            )
        )


def updated_rows(result: Any) -> int:
    """How many rows an UPDATE changed (the generic Result type does not say it has a count)."""
    return int(cast(CursorResult[Any], result).rowcount)
