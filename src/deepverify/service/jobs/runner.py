"""Running claimed jobs: shared by the in-process worker and the Celery workers.

The ``videos`` table is the queue and the source of truth; claiming a job is
:mod:`deepverify.service.jobs.queue`. A worker keeps a heartbeat while it runs a job, and writes its
outcome only while it still holds the claim (its ``claimed_by`` is a fencing token). Running a
job twice is therefore harmless: the second run either finds it finished and does nothing, or
takes over a dead worker's claim and redoes it into a fresh folder. The analysis itself is
injected (:class:`Analyzer`), so this module knows nothing of models;
:mod:`deepverify.service.jobs.analysis` provides the real one.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session, sessionmaker

from deepverify.errors import DeepverifyError
from deepverify.service.core import storage
from deepverify.service.core.models import JobStatus, Video, utcnow
from deepverify.service.core.objects import (
    ObjectMissingError,
    StorageUnavailableError,
    VideoStore,
    open_store,
)
from deepverify.service.core.settings import PRIVATE_DIR_MODE, Settings
from deepverify.service.core.uploads import MediaLimits, over_limit
from deepverify.service.jobs.guard import JobCancelledError, JobGuard
from deepverify.service.jobs.queue import Outcome, claim_job, stage_progress, updated_rows
from deepverify.stages import ProgressCallback

if TYPE_CHECKING:
    from deepverify.report.schema import Report
    from deepverify.video.frames import Check

logger = logging.getLogger(__name__)

PROGRESS_WRITE_INTERVAL_S = 0.25


class Analyzer(Protocol):
    """Analyse one video into ``out_dir``; return its report.

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
    ) -> Report:
        """Analyse ``video_path`` into ``out_dir`` and return its report."""


AnalyzerFactory = Callable[[], Analyzer]


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
        return updated_rows(result) > 0


def _postpone(factory: sessionmaker[Session], video_id: str, worker_id: str) -> None:
    """Let the claim lapse without counting the attempt: the store, not the video, failed.

    The job stays ``running`` with the heartbeat it had, so it is taken up again once the lease
    has passed, as a dead worker's job is (by any worker, or re-sent to Celery by the API).
    """
    try:
        with factory() as session, session.begin():
            session.execute(
                update(Video)
                .where(_fenced(video_id, worker_id))
                .values(attempts=Video.attempts - 1, stage=None)
                .execution_options(synchronize_session=False)
            )
    except Exception:  # the lease lapses anyway; only the attempt is counted
        logger.warning("could not postpone %s", video_id, exc_info=True)


def _duration(seconds: float) -> str:
    """``seconds`` as a person reads it: "40 s", "12 min", "6.0 h"."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _drop_results(store: VideoStore, *, video_id: str, storage_name: str) -> None:
    """Delete what a run published for a video deleted meanwhile (its upload is gone too)."""
    try:
        store.delete_video(video_id=video_id, storage_name=storage_name)
    except StorageUnavailableError:
        logger.warning("could not delete the results of deleted video %s", video_id, exc_info=True)


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
        storage_name = video.storage_name
        display_name = video.filename
        uploaded_at = video.created_at
        too_costly = over_limit(video.media or {}, MediaLimits.from_settings(settings))
    store = open_store(settings)
    work_dir = storage.work_dir(settings, video_id, worker_id)
    scratch = storage.scratch_dir(settings, video_id, worker_id)
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
            scratch.mkdir(parents=True, mode=PRIVATE_DIR_MODE)
            try:
                source = store.fetch_upload(storage_name, scratch)
            except ObjectMissingError as exc:
                raise DeepverifyError(
                    "the uploaded file is missing on the server; upload it again"
                ) from exc
            report = analyzer(
                source, out_dir=work_dir, progress=writer, display_name=display_name, check=guard
            )
            # Publish the files before the row says "done"; a concurrent duplicate run writes
            # the same.
            store.publish_results(video_id, work_dir)
    except JobCancelledError:
        logger.info("analysis of %s cancelled: the video was deleted", video_id)
        return Outcome.CANCELLED
    except StorageUnavailableError as exc:
        waited = (utcnow() - uploaded_at).total_seconds()
        if waited > settings.max_storage_wait_seconds:
            reason = (
                f"the analysis gave up waiting for the object store, {_duration(waited)} after "
                f"the upload (DEEPVERIFY_MAX_STORAGE_WAIT_SECONDS): {str(exc).rstrip('.')}; "
                "upload the video again"
            )
            ok = _finish(factory, video_id, worker_id, status=JobStatus.FAILED.value, error=reason)
            logger.warning("analysis of %s failed: %s", video_id, reason)
            return Outcome.FAILED if ok else Outcome.LOST
        logger.warning("analysis of %s postponed: %s", video_id, exc)
        _postpone(factory, video_id, worker_id)
        return Outcome.RETRY
    except DeepverifyError as exc:
        ok = _finish(factory, video_id, worker_id, status=JobStatus.FAILED.value, error=str(exc))
        logger.info("analysis of %s failed: %s", video_id, exc)
        return Outcome.FAILED if ok else Outcome.LOST
    except Exception as exc:
        logger.exception("analysis of %s crashed", video_id)
        reason = f"internal error while analysing the video ({type(exc).__name__}); see server log"
        ok = _finish(factory, video_id, worker_id, status=JobStatus.FAILED.value, error=reason)
        return Outcome.FAILED if ok else Outcome.LOST
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)  # gone already once published
        shutil.rmtree(scratch, ignore_errors=True)

    ok = _finish(
        factory,
        video_id,
        worker_id,
        status=JobStatus.DONE.value,
        report=report.model_dump(mode="json"),
        verdict=report.verdict,
        probability=report.probability,
        progress=writer.progress,
        stage=None,
    )
    if not ok:
        with factory() as session:
            if session.get(Video, video_id) is None:  # deleted while running: drop the files
                _drop_results(store, video_id=video_id, storage_name=storage_name)
        return Outcome.LOST
    logger.info("analysis of %s done: %s", video_id, report.verdict)
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
