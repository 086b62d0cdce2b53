"""The job machinery shared by the in-process worker and the Celery workers.

The ``videos`` table is the queue and the source of truth. A worker *claims* a job with one
conditional UPDATE (queued, or running with a stale heartbeat: its worker died), keeps a
heartbeat while it runs, and writes its outcome only while it still holds the claim (its
``claimed_by`` is a fencing token). Running a job twice is therefore harmless: the second run
either finds it finished and does nothing, or takes over a dead worker's claim and redoes it into a
fresh folder. The analysis itself is injected (:class:`Analyzer`), so this module knows nothing of
models; :mod:`deepverify.service.analysis` provides the real one.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from deepverify.errors import DeepverifyError
from deepverify.service import storage
from deepverify.service.guard import JobCancelledError, JobGuard
from deepverify.service.models import JobStatus, Video, utcnow
from deepverify.service.settings import Settings
from deepverify.service.uploads import MediaLimits, over_limit
from deepverify.stages import STAGES, ProgressCallback

if TYPE_CHECKING:
    from deepverify.frames import Check

logger = logging.getLogger(__name__)

PROGRESS_WRITE_INTERVAL_S = 0.25


def stage_progress(recorded: dict[str, float] | None = None) -> dict[str, float]:
    """Every pipeline stage in the order it runs, at 0 unless ``recorded`` says otherwise.

    Stages the pipeline does not list (none today) follow, so nothing recorded is hidden.
    """
    return {**dict.fromkeys(STAGES, 0.0), **(recorded or {})}


class Analyzer(Protocol):
    """Analyse one video into ``out_dir``; return the report as JSON-ready data.

    Raise a :class:`~deepverify.errors.DeepverifyError` for problems with the video itself; its
    message becomes the job's failure reason. Call ``check`` often (the pipeline calls it for
    every packet and frame it decodes): it raises when the job is cancelled or over its budget.
    """

    def __call__(
        self,
        video_path: Path,
        *,
        out_dir: Path,
        progress: ProgressCallback,
        display_name: str | None = None,
        check: Check | None = None,
    ) -> dict[str, Any]:
        """Analyse ``video_path`` into ``out_dir`` and return the report as JSON data."""


AnalyzerFactory = Callable[[], Analyzer]


class Outcome(StrEnum):
    """What :func:`process_job` or :func:`run_claimed` did."""

    DONE = "done"
    FAILED = "failed"
    ALREADY_FINISHED = "already-finished"  # done or failed before: nothing to do (idempotent)
    BUSY = "busy"  # another live worker holds it
    MISSING = "missing"  # deleted
    LOST = "lost"  # our claim was taken over (we were too slow) or the video was deleted
    CANCELLED = "cancelled"  # the video was deleted while it ran: stopped early


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
        claimed = _rowcount(
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
    if status in (JobStatus.DONE.value, JobStatus.FAILED.value):
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


def _rowcount(result: Any) -> int:
    # UPDATE statements return a CursorResult; the generic Result type does not say so.
    return int(cast(CursorResult[Any], result).rowcount)


def _fenced(video_id: str, worker_id: str) -> Any:
    return and_(
        Video.id == video_id,
        Video.claimed_by == worker_id,
        Video.status == JobStatus.RUNNING.value,
    )


class _ProgressWriter:
    """Records stage progress (throttled) and the heartbeat while a job runs."""

    def __init__(
        self, factory: sessionmaker[Session], video_id: str, worker_id: str, guard: JobGuard
    ) -> None:
        self.factory = factory
        self.video_id = video_id
        self.worker_id = worker_id
        self.guard = guard
        self.progress = stage_progress()
        self.stage: str | None = None
        self._last_write = 0.0
        self._lock = threading.Lock()

    def __call__(self, stage: str, fraction: float) -> None:
        self.guard()  # between and within stages: stop a cancelled or over-budget job
        fraction = min(max(float(fraction), 0.0), 1.0)
        with self._lock:
            changed_stage = stage != self.stage
            self.stage = stage
            self.progress[stage] = round(fraction, 4)
            due = time.monotonic() - self._last_write >= PROGRESS_WRITE_INTERVAL_S
            if changed_stage or fraction >= 1.0 or due:
                self._write(progress=dict(self.progress), stage=stage)

    def beat(self) -> None:
        with self._lock:
            self._write()

    def still_ours(self) -> bool:
        """False once the video is deleted or another worker took the job over."""
        try:
            with self.factory() as session:
                found = session.scalar(
                    select(Video.id).where(_fenced(self.video_id, self.worker_id))
                )
        except Exception:  # a database hiccup is not a cancellation
            logger.warning("could not check the claim of %s", self.video_id, exc_info=True)
            return True
        return found is not None

    def _write(self, **values: Any) -> None:
        self._last_write = time.monotonic()
        try:
            with self.factory() as session, session.begin():
                session.execute(
                    update(Video)
                    .where(_fenced(self.video_id, self.worker_id))
                    .values(heartbeat_at=utcnow(), **values)
                    .execution_options(synchronize_session=False)
                )
        except Exception:  # a missed progress write must not kill the analysis
            logger.warning("could not record progress of %s", self.video_id, exc_info=True)


@contextmanager
def _heartbeat(writer: _ProgressWriter, interval_s: float, check_s: float) -> Iterator[None]:
    """Beat every ``interval_s``; every ``check_s``, cancel the job if its video is gone.

    Cancellation reads the database, so it works the same for the in-process worker and for
    Celery workers on other machines.
    """
    stop = threading.Event()

    def loop() -> None:
        last_beat = time.monotonic()
        while not stop.wait(min(check_s, interval_s)):
            if not writer.still_ours():
                writer.guard.cancel()
                return
            if time.monotonic() - last_beat >= interval_s:
                writer.beat()
                last_beat = time.monotonic()

    thread = threading.Thread(target=loop, name=f"heartbeat-{writer.video_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _finish(factory: sessionmaker[Session], video_id: str, worker_id: str, **values: Any) -> bool:
    with factory() as session, session.begin():
        result = session.execute(
            update(Video)
            .where(_fenced(video_id, worker_id))
            .values(finished_at=utcnow(), heartbeat_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) > 0


def run_claimed(
    factory: sessionmaker[Session],
    *,
    video_id: str,
    worker_id: str,
    settings: Settings,
    analyzer: Analyzer,
) -> Outcome:
    """Run a job this worker has claimed and record its outcome (if it still holds the claim)."""
    with factory() as session:
        video = session.get(Video, video_id)
        if video is None:
            return Outcome.MISSING
        source = storage.upload_path(settings, video.storage_name)
        display_name = video.filename
        too_costly = over_limit(video.media or {}, MediaLimits.from_settings(settings))
    final_dir = storage.result_dir(settings, video_id)
    work_dir = storage.work_dir(settings, video_id, worker_id)
    guard = JobGuard(max_seconds=settings.max_analysis_seconds)
    writer = _ProgressWriter(factory, video_id, worker_id, guard)
    logger.info("analysing %s (%s)", video_id, worker_id)
    try:
        beat_s = max(settings.job_lease_seconds / 4, 0.05)
        with _heartbeat(writer, beat_s, settings.cancel_check_seconds):
            storage.remove_leftovers(settings, video_id)  # earlier attempts' (we hold the claim)
            work_dir.mkdir(parents=True)
            if too_costly is not None:  # queued under laxer limits: refuse before decoding
                raise DeepverifyError(too_costly)
            if not source.is_file():
                raise DeepverifyError("the uploaded file is missing on the server; upload it again")
            report = analyzer(
                source, out_dir=work_dir, progress=writer, display_name=display_name, check=guard
            )
    except JobCancelledError:
        shutil.rmtree(work_dir, ignore_errors=True)
        logger.info("analysis of %s cancelled: the video was deleted", video_id)
        return Outcome.CANCELLED
    except DeepverifyError as exc:
        shutil.rmtree(work_dir, ignore_errors=True)
        ok = _finish(factory, video_id, worker_id, status=JobStatus.FAILED.value, error=str(exc))
        logger.info("analysis of %s failed: %s", video_id, exc)
        return Outcome.FAILED if ok else Outcome.LOST
    except Exception as exc:
        shutil.rmtree(work_dir, ignore_errors=True)
        logger.exception("analysis of %s crashed", video_id)
        reason = f"internal error while analysing the video ({type(exc).__name__}); see server log"
        ok = _finish(factory, video_id, worker_id, status=JobStatus.FAILED.value, error=reason)
        return Outcome.FAILED if ok else Outcome.LOST

    # Publish the files before the row says "done"; a concurrent duplicate run writes the same.
    storage.make_private(work_dir)
    shutil.rmtree(final_dir, ignore_errors=True)
    work_dir.rename(final_dir)
    ok = _finish(
        factory,
        video_id,
        worker_id,
        status=JobStatus.DONE.value,
        report=report,
        verdict=report.get("verdict"),
        probability=report.get("probability"),
        progress=writer.progress,
        stage=None,
    )
    if not ok:
        with factory() as session:
            if session.get(Video, video_id) is None:  # deleted while running: drop the files
                shutil.rmtree(final_dir, ignore_errors=True)
        return Outcome.LOST
    logger.info("analysis of %s done: %s", video_id, report.get("verdict"))
    return Outcome.DONE


def process_job(
    factory: sessionmaker[Session],
    *,
    video_id: str,
    worker_id: str,
    settings: Settings,
    analyzer: Analyzer,
) -> Outcome:
    """Claim and run ``video_id`` (idempotent: finished, busy or deleted jobs are left alone)."""
    outcome = claim_job(factory, video_id=video_id, worker_id=worker_id, settings=settings)
    if outcome is not None:
        return outcome
    return run_claimed(
        factory, video_id=video_id, worker_id=worker_id, settings=settings, analyzer=analyzer
    )
