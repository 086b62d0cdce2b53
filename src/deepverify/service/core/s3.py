"""The S3 backend of :class:`deepverify.service.core.objects.VideoStore` (boto3).

Works with AWS S3 and S3-compatible stores (SeaweedFS, MinIO, Ceph, R2...): ``s3_endpoint_url``
and ``s3_path_style`` select those. Credentials come from boto3's standard chain
(``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, a profile, an instance or pod role), never
from a setting that could be logged.

Files move with boto3's managed transfers: multipart above :data:`PART_BYTES`, so at most
``MAX_CONCURRENCY`` parts are in memory at once, whatever the file's size; a failed multipart
upload is aborted, so a cut transfer leaves no object (and no stray parts) behind. Every
botocore failure is turned into :class:`~deepverify.service.core.objects.StorageUnavailableError`
(or :class:`~deepverify.service.core.objects.ObjectMissingError` for a missing object) with a
one-line reason.
"""

from __future__ import annotations

import logging
import mimetypes
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from deepverify.service.core.objects import (
    CHUNK_BYTES,
    ObjectEntry,
    ObjectMissingError,
    StorageUnavailableError,
    StoredObject,
    result_prefix,
    upload_key,
)
from deepverify.service.core.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef, ObjectTypeDef

logger = logging.getLogger(__name__)

PART_BYTES = 8 * 1024 * 1024
MAX_CONCURRENCY = 4
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 30.0
MAX_ATTEMPTS = 3  # per request, botocore's standard retry mode
DELETE_BATCH = 1000  # S3's limit per DeleteObjects request
_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


class S3Store:
    """Uploads and results as objects in ``s3_bucket`` under ``s3_prefix``."""

    kind = "s3"

    def __init__(self, settings: Settings) -> None:
        if not settings.s3_bucket:
            raise ValueError("DEEPVERIFY_S3_BUCKET is not set")
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix
        self.endpoint = settings.s3_endpoint_url or "AWS S3"
        config = Config(
            s3={"addressing_style": "path" if settings.s3_path_style else "auto"},
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
            retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            # Checksums only where S3 requires them: some S3-compatible stores reject the CRC32
            # checksum headers boto3 (since 1.36) otherwise adds to every upload.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self.client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            config=config,
        )
        self.transfer = TransferConfig(
            multipart_threshold=PART_BYTES,
            multipart_chunksize=PART_BYTES,
            max_concurrency=MAX_CONCURRENCY,
        )

    def check(self) -> None:
        """Ask for the bucket: reachable, credentials accepted, bucket present."""
        with self._errors():
            self.client.head_bucket(Bucket=self.bucket)

    def store_upload(self, source: Path, storage_name: str) -> None:
        """Upload ``source`` (multipart when large), then delete the local file."""
        with self._errors():
            self.client.upload_file(
                str(source), self.bucket, self._key(upload_key(storage_name)),
                Config=self.transfer,
            )  # fmt: skip
        source.unlink(missing_ok=True)

    def fetch_upload(self, storage_name: str, scratch: Path) -> Path:
        """Download the upload to ``scratch/upload`` (boto3 writes it under a temporary name)."""
        target = scratch / "upload"
        with self._errors(missing=f"upload {storage_name} not found"):
            self.client.download_file(
                self.bucket, self._key(upload_key(storage_name)), str(target),
                Config=self.transfer,
            )  # fmt: skip
        return target

    def publish_results(self, video_id: str, folder: Path) -> None:
        """Replace the video's result objects by the files of ``folder``, then delete it."""
        prefix = result_prefix(video_id)
        self._delete_prefix(prefix)  # an earlier attempt's files
        with self._errors():
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                self.client.upload_file(
                    str(path), self.bucket,
                    self._key(prefix + path.relative_to(folder).as_posix()),
                    ExtraArgs={"ContentType": content_type}, Config=self.transfer,
                )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)

    def open_result(self, video_id: str, name: str) -> StoredObject:
        """Start reading the result object; its body streams as it is taken."""
        with self._errors(missing=f"{name} not found"):
            answer = self.client.get_object(
                Bucket=self.bucket, Key=self._key(result_prefix(video_id) + name)
            )
        body = answer["Body"]
        return StoredObject(size=answer["ContentLength"], chunks=_stream(body, self.endpoint))

    def delete_upload(self, storage_name: str) -> None:
        """Delete the upload object."""
        with self._errors():
            self.client.delete_object(Bucket=self.bucket, Key=self._key(upload_key(storage_name)))

    def delete_video(self, *, video_id: str, storage_name: str) -> None:
        """Delete the upload object and every result object of the video."""
        self.delete_upload(storage_name)
        self.delete_results(video_id)

    def delete_results(self, video_id: str) -> None:
        """Delete every result object of the video."""
        self._delete_prefix(result_prefix(video_id))

    def objects(self) -> list[ObjectEntry]:
        """Every object under the prefix (its key without the prefix), sorted by key."""
        return sorted(
            (
                ObjectEntry(item["Key"].removeprefix(self.prefix), item["LastModified"].timestamp())
                for item in self._items("")
            ),
            key=lambda entry: entry.key,
        )

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _items(self, prefix: str) -> Iterator[ObjectTypeDef]:
        with self._errors():
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix)
            )
            for page in pages:
                yield from page.get("Contents", [])

    def _delete_prefix(self, prefix: str) -> None:
        keys = [item["Key"] for item in self._items(prefix)]
        with self._errors():
            for start in range(0, len(keys), DELETE_BATCH):
                batch: list[ObjectIdentifierTypeDef] = [
                    {"Key": key} for key in keys[start : start + DELETE_BATCH]
                ]
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
                if answer.get("Errors"):
                    error = answer["Errors"][0]
                    raise StorageUnavailableError(
                        f"the object store refused to delete {error.get('Key')}: "
                        f"{error.get('Code')} {error.get('Message', '')}".strip()
                    )

    @contextmanager
    def _errors(self, *, missing: str | None = None) -> Iterator[None]:
        """Turn botocore's exceptions into the store's, with a one-line reason."""
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "?"))
            if missing is not None and code in _MISSING_CODES:
                raise ObjectMissingError(missing) from exc
            raise StorageUnavailableError(self._client_reason(code, error.get("Message"))) from exc
        except NoCredentialsError as exc:
            raise StorageUnavailableError(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an AWS "
                "profile or role)"
            ) from exc
        except (BotoCoreError, S3UploadFailedError) as exc:
            raise StorageUnavailableError(
                f"the object store at {self.endpoint} cannot be used: {exc}"
            ) from exc

    def _client_reason(self, code: str, message: str | None) -> str:
        where = f"bucket {self.bucket!r} at {self.endpoint}"
        if code in ("404", "NoSuchBucket"):
            return f"the {where} does not exist; create it or set DEEPVERIFY_S3_BUCKET"
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return (
                f"the {where} refused our credentials ({code}); check AWS_ACCESS_KEY_ID, "
                "AWS_SECRET_ACCESS_KEY and the bucket's policy"
            )
        return f"the {where} answered {code}: {message or 'no reason given'}"


def _stream(body: object, endpoint: str) -> Iterator[bytes]:
    """The chunks of a ``get_object`` body, closed at the end (or when dropped)."""
    from botocore.response import StreamingBody

    assert isinstance(body, StreamingBody)
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    except BotoCoreError as exc:  # headers are sent: all we can do is cut the response
        logger.warning("reading an object from %s failed: %s", endpoint, exc)
        raise
    finally:
        body.close()
