"""Where the service keeps its files under ``DEEPVERIFY_HOME``.

Layout::

    uploads/<storage name>                  a received upload, under a generated name
    uploads/incoming/<random>.part          an upload still arriving
    results/<video id>/                     a finished analysis: report, report.html, images
    results/<video id>.<worker>.tmp/        an analysis being written, published when it is done
    results/<video id>.<worker>.upload.tmp/ a worker's copy of the upload it analyses (S3 only)

With the local object store (:class:`deepverify.service.core.objects.LocalStore`) every process
shares this folder and all of it is used. With S3 only the ``incoming`` and ``.tmp`` entries are:
each process has a private home, and stored uploads and results live in the bucket.
Every path the API, the workers and the housekeeping use comes from here.

An upload being received holds an advisory lock (``flock``) on its ``.part`` file until it is
stored or refused, so start-up can tell a crash's leftover (nobody holds its lock) from a file
another live process sharing the folder is still receiving, whatever their ages. On NFS, Linux
emulates ``flock`` with byte-range locks, which hold across machines where the NFS lock service
runs.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from deepverify.service.core.settings import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, Settings

WORK_SUFFIX = ".tmp"
PART_SUFFIX = ".part"


def uploads_dir(settings: Settings) -> Path:
    """The folder of stored uploads."""
    return settings.home / "uploads"


def incoming_dir(settings: Settings) -> Path:
    """The folder uploads are streamed into before they are accepted."""
    return uploads_dir(settings) / "incoming"


def results_dir(settings: Settings) -> Path:
    """The folder of analysis results, one folder per video."""
    return settings.home / "results"


def ensure_dirs(settings: Settings) -> None:
    """Create ``home`` and the storage folders, private to this user (idempotent).

    They hold password hashes, the secret key and users' videos: mode 0700.
    """
    for path in (
        settings.home,
        uploads_dir(settings),
        incoming_dir(settings),
        results_dir(settings),
    ):
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        path.chmod(PRIVATE_DIR_MODE)


def new_storage_name() -> str:
    """A fresh name to store an upload under (never the client's file name)."""
    return uuid.uuid4().hex


def upload_path(settings: Settings, storage_name: str) -> Path:
    """Where the upload stored as ``storage_name`` lives."""
    return uploads_dir(settings) / storage_name


def result_dir(settings: Settings, video_id: str) -> Path:
    """Where a finished video's report, report.html and images live."""
    return results_dir(settings) / video_id


def work_dir(settings: Settings, video_id: str, worker_id: str) -> Path:
    """Where ``worker_id`` writes its analysis of ``video_id`` before publishing it."""
    return results_dir(settings) / f"{video_id}.{worker_id}{WORK_SUFFIX}"


def scratch_dir(settings: Settings, video_id: str, worker_id: str) -> Path:
    """Where ``worker_id`` keeps its own copy of the upload of ``video_id`` while analysing it."""
    return results_dir(settings) / f"{video_id}.{worker_id}.upload{WORK_SUFFIX}"


def incoming_parts(settings: Settings) -> Iterator[Path]:
    """Uploads still arriving, or left half-received by a crash."""
    return incoming_dir(settings).glob(f"*{PART_SUFFIX}")


@dataclass(frozen=True)
class IncomingPart:
    """A ``.part`` file being received: its path and the open, locked file to write it through."""

    path: Path
    file: BinaryIO


@contextmanager
def receiving(folder: Path) -> Iterator[IncomingPart]:
    """Create a new private ``.part`` file in ``folder``, locked until the block ends.

    The file is removed when the block ends unless it was moved away (stored); its lock goes
    with the open file, so a stored upload keeps it until then.
    """
    folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    for _ in range(_CREATE_TRIES):
        path = folder / f"{uuid.uuid4().hex}{PART_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        # A sweep may take the lock of a file just created and delete it: try a new name then.
        if _try_lock(fd) and _still_named(path, fd):
            break
        os.close(fd)
    else:
        raise OSError(f"could not create a locked upload file in {folder}")
    with os.fdopen(fd, "wb") as out:
        try:
            yield IncomingPart(path, out)
        finally:
            path.unlink(missing_ok=True)  # still locked: no sweep counts it as abandoned


def remove_if_abandoned(part: Path) -> bool:
    """Delete the ``.part`` file ``part`` unless a live process holds its lock; True if deleted."""
    try:
        fd = os.open(part, os.O_RDWR)  # NFS grants an exclusive lock only to a writable file
    except FileNotFoundError:
        return False  # stored or refused meanwhile
    try:
        if not (_try_lock(fd) and _still_named(part, fd)):
            return False
        part.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


_CREATE_TRIES = 5


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _still_named(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (not deleted or replaced)."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(fd))
    except FileNotFoundError:
        return False


def work_dirs(settings: Settings) -> Iterator[Path]:
    """Analyses being written, or left half-written by a crash."""
    return results_dir(settings).glob(f"*{WORK_SUFFIX}")


def remove_leftovers(settings: Settings, video_id: str) -> None:
    """Delete the half-written folders of earlier attempts at ``video_id`` (their workers died).

    That is their work folders and the partial copies :func:`deepverify.files.atomic_target`
    leaves beside a result folder (``.<video id>.*``).
    """
    for pattern in (f"{video_id}.*{WORK_SUFFIX}", f".{video_id}.*"):
        for path in results_dir(settings).glob(pattern):
            shutil.rmtree(path, ignore_errors=True)


def remove_video_files(settings: Settings, *, video_id: str, storage_name: str) -> None:
    """Delete a video's stored upload, its results and any analysis still being written."""
    upload_path(settings, storage_name).unlink(missing_ok=True)
    remove_results(settings, video_id)


def remove_results(settings: Settings, video_id: str) -> None:
    """Delete a video's results and any analysis of it still being written."""
    shutil.rmtree(result_dir(settings, video_id), ignore_errors=True)
    remove_leftovers(settings, video_id)


def make_private(folder: Path) -> None:
    """Make ``folder`` and everything in it private to this user (0700 folders, 0600 files).

    The analysis writes its report and images with the process's default modes; a result holds
    a user's video frames, so it is kept like their upload.
    """
    folder.chmod(PRIVATE_DIR_MODE)
    for path in folder.rglob("*"):
        path.chmod(PRIVATE_DIR_MODE if path.is_dir() else PRIVATE_FILE_MODE)
