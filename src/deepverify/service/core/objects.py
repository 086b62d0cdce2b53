"""The object store of uploads and results: one interface, a local-folder and an S3 backend.

Every per-video file the service keeps goes through :class:`VideoStore`:

- the API stores a received, probed upload (:meth:`VideoStore.store_upload`);
- a worker fetches it to a private scratch folder, analyses it into a private work folder and
  publishes the results (:meth:`VideoStore.fetch_upload`, :meth:`VideoStore.publish_results`);
- the API streams a result file to its owner (:meth:`VideoStore.open_result`);
- deleting a video deletes its objects (:meth:`VideoStore.delete_video`);
- housekeeping lists every object with its age and deletes those no video row names
  (:meth:`VideoStore.objects`, :func:`deepverify.service.api.hygiene.sweep_orphans`).

Objects are named by key: ``uploads/<storage name>`` and ``results/<video id>/<file>``.
:class:`LocalStore` keeps them under ``DEEPVERIFY_HOME`` exactly as
:mod:`deepverify.service.core.storage` lays them out (every process shares that folder);
:class:`deepverify.service.core.s3.S3Store` keeps them in a bucket, so the API and the workers
share nothing but the database, the broker and the store. :func:`open_store` picks one from the
settings.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from deepverify.errors import DeepverifyError
from deepverify.service.core import storage
from deepverify.service.core.settings import Settings

CHUNK_BYTES = 1024 * 1024  # streamed reads


class StorageUnavailableError(DeepverifyError):
    """The object store cannot be used now (unreachable, refusing our credentials, no bucket).

    The API answers 503 with this message; a job meeting it is retried later.
    """


class ObjectMissingError(DeepverifyError):
    """The object asked for does not exist in the store."""


@dataclass
class StoredObject:
    """An object opened for reading: its size and its bytes, read in chunks as they are taken."""

    size: int
    chunks: Iterator[bytes]


@dataclass(frozen=True)
class ObjectEntry:
    """One stored object: its key and when it was last written (seconds since the epoch)."""

    key: str
    modified: float


def upload_key(storage_name: str) -> str:
    """The key of the upload stored as ``storage_name``."""
    return f"uploads/{storage_name}"


def result_prefix(video_id: str) -> str:
    """The key prefix of a video's results (report page and images)."""
    return f"results/{video_id}/"


class VideoStore(Protocol):
    """Where uploads and analysis results live; see the module docstring for who calls what."""

    kind: str  # the settings' ``storage`` value

    def check(self) -> None:
        """Raise :class:`StorageUnavailableError` with the reason unless the store is usable."""

    def store_upload(self, source: Path, storage_name: str) -> None:
        """Store the local file ``source`` (used up) as the upload ``storage_name``."""

    def fetch_upload(self, storage_name: str, scratch: Path) -> Path:
        """A local path holding the upload ``storage_name`` (written under ``scratch`` if need be).

        Raises:
            ObjectMissingError: no such upload.
        """

    def publish_results(self, video_id: str, folder: Path) -> None:
        """Replace the results of ``video_id`` by the files of ``folder`` (used up)."""

    def open_result(self, video_id: str, name: str) -> StoredObject:
        """Open the result file ``name`` (a relative path) of ``video_id`` for reading.

        Raises:
            ObjectMissingError: no such file.
        """

    def delete_upload(self, storage_name: str) -> None:
        """Delete the upload ``storage_name`` (a missing one is no error)."""

    def delete_video(self, *, video_id: str, storage_name: str) -> None:
        """Delete the upload and the results of a video (missing ones are no error)."""

    def delete_results(self, video_id: str) -> None:
        """Delete the results of a video (none is no error)."""

    def objects(self) -> list[ObjectEntry]:
        """Every object stored, sorted by key (for housekeeping and tests)."""


class LocalStore:
    """Objects as files under ``DEEPVERIFY_HOME`` (the layout of :mod:`.storage`).

    Storing an upload and publishing results are renames within that folder, so they are
    atomic; the workers read uploads where they lie.
    """

    kind = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self) -> None:
        """Create the folders if needed; a folder that cannot be written is a start-up error."""
        try:
            storage.ensure_dirs(self.settings)
        except OSError as exc:
            raise StorageUnavailableError(
                f"the storage folder {self.settings.home} cannot be used: {exc}"
            ) from exc

    def store_upload(self, source: Path, storage_name: str) -> None:
        """Move ``source`` into ``uploads/``."""
        source.replace(storage.upload_path(self.settings, storage_name))

    def fetch_upload(self, storage_name: str, scratch: Path) -> Path:
        """The stored file itself (nothing is copied)."""
        path = storage.upload_path(self.settings, storage_name)
        if not path.is_file():
            raise ObjectMissingError(f"upload {storage_name} not found")
        return path

    def publish_results(self, video_id: str, folder: Path) -> None:
        """Make ``folder`` private and rename it over the video's result folder."""
        final = storage.result_dir(self.settings, video_id)
        storage.make_private(folder)
        shutil.rmtree(final, ignore_errors=True)
        folder.rename(final)

    def open_result(self, video_id: str, name: str) -> StoredObject:
        """Open ``results/<video id>/<name>``."""
        path = storage.result_dir(self.settings, video_id) / name
        try:
            handle = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectMissingError(f"{name} not found") from exc
        size = path.stat().st_size
        return StoredObject(size=size, chunks=_read_chunks(handle))

    def delete_upload(self, storage_name: str) -> None:
        """Delete ``uploads/<storage name>``."""
        storage.upload_path(self.settings, storage_name).unlink(missing_ok=True)

    def delete_video(self, *, video_id: str, storage_name: str) -> None:
        """Delete the upload, the result folder and any analysis still being written."""
        storage.remove_video_files(self.settings, video_id=video_id, storage_name=storage_name)

    def delete_results(self, video_id: str) -> None:
        """Delete ``results/<video id>`` and any analysis of it still being written."""
        storage.remove_results(self.settings, video_id)

    def objects(self) -> list[ObjectEntry]:
        """Every stored upload and result file, with its modification time."""
        uploads = storage.uploads_dir(self.settings)
        files = [(upload_key(path.name), path) for path in uploads.glob("*") if path.is_file()]
        for folder in storage.results_dir(self.settings).glob("*"):
            if folder.is_dir() and not folder.name.endswith(storage.WORK_SUFFIX):
                prefix = result_prefix(folder.name)
                files += [
                    (prefix + path.relative_to(folder).as_posix(), path)
                    for path in folder.rglob("*")
                    if path.is_file()
                ]
        found = []
        for key, path in files:
            try:
                found.append(ObjectEntry(key, path.stat().st_mtime))
            except FileNotFoundError:  # deleted while listing
                continue
        return sorted(found, key=lambda entry: entry.key)


def _read_chunks(file: BinaryIO) -> Iterator[bytes]:
    """Read an open binary file in chunks, closing it at the end (or when dropped)."""
    with file:
        while chunk := file.read(CHUNK_BYTES):
            yield chunk


@dataclass(frozen=True)
class _StoreConfig:
    """The settings a store depends on (hashable: one client per distinct configuration)."""

    kind: str
    home: Path
    bucket: str | None
    prefix: str
    endpoint_url: str | None
    region: str | None
    path_style: bool


def open_store(settings: Settings) -> VideoStore:
    """The store ``settings.storage`` names (one per configuration and process, reused)."""
    return _cached_store(
        _StoreConfig(
            kind=settings.storage,
            home=settings.home,
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            path_style=settings.s3_path_style,
        ),
        settings,
    )


_stores: dict[_StoreConfig, VideoStore] = {}


def _cached_store(config: _StoreConfig, settings: Settings) -> VideoStore:
    store = _stores.get(config)  # a boto3 client is thread-safe and costly to build
    if store is None:
        if config.kind == "s3":
            from deepverify.service.core.s3 import S3Store

            store = S3Store(settings)
        else:
            store = LocalStore(settings)
        store = _stores.setdefault(config, store)
    return store


def forget_stores() -> None:
    """Drop the reused stores (their clients), e.g. after the credentials changed."""
    _stores.clear()
