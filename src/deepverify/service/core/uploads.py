"""Receiving uploads: streamed to disk with a size limit, hashed, then probed with PyAV.

The multipart body is parsed as it arrives (python-multipart), so a file is never held in memory
and an over-size upload is cut off at the limit instead of filling the disk first. Files are
written under generated names in ``uploads/incoming``, locked while they are received and
checked (:func:`deepverify.service.core.storage.receiving`), and removed on every failure path. The
client's file name and content type are recorded for display only: what the file *is* is decided
by probing its content.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from deepverify.errors import DeepverifyError, InvalidVideoError
from deepverify.service.core.settings import Settings
from deepverify.service.core.storage import IncomingPart

logger = logging.getLogger(__name__)

MULTIPART_SLACK_BYTES = 64 * 1024  # boundaries and part headers around the file
MAX_PARTS = 8


class UploadError(DeepverifyError):
    """An upload was refused; ``status_code`` is the HTTP status to answer with."""

    status_code = 400


class UploadTooLargeError(UploadError):
    """The body exceeds the configured size limit."""

    status_code = 413


class UnsupportedVideoError(UploadError):
    """The content is not a video this service analyses."""

    status_code = 415


class UploadTimeoutError(UploadError):
    """The body did not arrive within the upload time limit."""

    status_code = 408


class TooManyPendingError(UploadError):
    """The owner already has as many videos waiting for analysis as allowed."""

    status_code = 429
    retry_after_s = 30


@dataclass
class ReceivedFile:
    """A file part written to disk under a generated name."""

    path: Path
    filename: str
    content_type: str | None
    size_bytes: int
    sha256: str


def safe_filename(raw: str | None, *, default: str = "upload") -> str:
    """A display name from a client file name: last path component, no control characters."""
    if not raw:
        return default
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip().lstrip(".")
    return name[:255] or default


async def receive_file(
    *,
    body: AsyncIterator[bytes],
    content_type: str | None,
    content_length: str | None,
    part: IncomingPart,
    max_bytes: int,
    field_name: str = "file",
) -> ReceivedFile:
    """Stream the multipart part ``field_name`` of a request body into the file ``part``.

    The caller owns ``part`` (:func:`deepverify.service.core.storage.receiving`), which removes it
    unless it is stored; everything written is flushed to it on return.

    Raises:
        UploadTooLargeError: the body (declared or received) exceeds ``max_bytes`` plus slack.
        UploadError: not multipart, no ``field_name`` part, truncated body or empty file.
    """
    limit = max_bytes + MULTIPART_SLACK_BYTES
    if content_length and content_length.isdigit() and int(content_length) > limit:
        raise UploadTooLargeError(f"the upload is larger than the limit of {max_bytes} bytes")
    kind, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadError("send the video as multipart/form-data with a 'file' field")
    result = await _parse(body, boundary, part.file, limit, max_bytes, field_name)
    part.file.flush()
    if result is None:
        raise UploadError(f"the form has no '{field_name}' file part")
    filename, part_type, size, digest = result
    if size == 0:
        raise UploadError("the uploaded file is empty; choose a video file")
    return ReceivedFile(part.path, safe_filename(filename), part_type, size, digest)


class _FormReader:
    """Multipart parser callbacks: copy the file part named ``field_name`` to ``out``, hashed.

    Only the first such part is kept; other parts are skipped, and more than :data:`MAX_PARTS`
    parts or a file over ``max_bytes`` stop the upload.
    """

    def __init__(self, out: BinaryIO, field_name: str, max_bytes: int) -> None:
        self.out = out
        self.field_name = field_name
        self.max_bytes = max_bytes
        self.headers: dict[bytes, bytes] = {}
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.parts = 0
        self.in_file = False
        self.found = False  # the file part's headers were seen
        self.complete = False  # ... and its end
        self.ended = False  # the body's closing boundary was seen
        self.filename: str | None = None
        self.content_type: str | None = None
        self.sha = hashlib.sha256()
        self.written = 0

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise UploadError("too many parts in the form; send one 'file' field")
        self.headers.clear()
        self.in_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, disposition = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        if name != self.field_name or b"filename" not in disposition or self.found:
            return
        self.in_file = self.found = True
        self.filename = disposition[b"filename"].decode("utf-8", "replace")
        part_type = self.headers.get(b"content-type")
        self.content_type = part_type.decode("latin-1")[:255] if part_type else None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file:
            return
        chunk = data[start:end]
        self.written += len(chunk)
        if self.written > self.max_bytes:
            raise UploadTooLargeError(
                f"the upload is larger than the limit of {self.max_bytes} bytes"
            )
        self.sha.update(chunk)
        self.out.write(chunk)

    def on_part_end(self) -> None:
        self.complete = self.complete or self.in_file
        self.in_file = False

    def on_end(self) -> None:
        self.ended = True


async def _parse(
    body: AsyncIterator[bytes],
    boundary: bytes,
    out: BinaryIO,
    limit: int,
    max_bytes: int,
    field_name: str,
) -> tuple[str | None, str | None, int, str] | None:
    reader = _FormReader(out, field_name, max_bytes)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": reader.on_part_begin,
            "on_header_field": reader.on_header_field,
            "on_header_value": reader.on_header_value,
            "on_header_end": reader.on_header_end,
            "on_headers_finished": reader.on_headers_finished,
            "on_part_data": reader.on_part_data,
            "on_part_end": reader.on_part_end,
            "on_end": reader.on_end,
        },
    )
    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > limit:
                raise UploadTooLargeError(
                    f"the upload is larger than the limit of {max_bytes} bytes"
                )
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise UploadError(f"the multipart body is malformed: {exc}") from exc
    if not reader.found:
        return None
    if not reader.complete or not reader.ended:
        raise UploadError("the upload was cut off before the end; send it again")
    return reader.filename, reader.content_type, reader.written, reader.sha.hexdigest()


@dataclass(frozen=True)
class MediaLimits:
    """What one video may cost to analyse, checked on upload and again before a job runs."""

    max_pixels: int
    max_seconds: float
    max_frames: int
    max_pixels_per_second: int
    probe_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaLimits:
        """The limits the settings configure."""
        return cls(
            max_pixels=settings.max_video_pixels,
            max_seconds=settings.max_video_seconds,
            max_frames=settings.max_video_frames,
            max_pixels_per_second=settings.max_pixels_per_second,
            probe_seconds=settings.probe_timeout_seconds,
        )


def over_limit(media: Mapping[str, Any], limits: MediaLimits) -> str | None:
    """Why a video's probed facts (``VideoInfo`` fields) exceed ``limits``; None when they don't.

    Decoding cost grows with frames x pixels, whatever the file size: a few hundred kilobytes
    of near-empty frames can hold minutes of 4K decoding.
    """
    width, height = int(media.get("width", 0)), int(media.get("height", 0))
    frames, fps = int(media.get("frame_count", 0)), float(media.get("fps", 0.0))
    duration = float(media.get("duration_s", 0.0))
    if width * height > limits.max_pixels:
        return (
            f"the video is {width}x{height}, larger than the limit of {limits.max_pixels} "
            "pixels per frame; downscale it and upload again"
        )
    if duration > limits.max_seconds:
        return (
            f"the video lasts {duration:.0f} s, longer than the limit of "
            f"{limits.max_seconds:.0f} s; trim it and upload again"
        )
    if frames > limits.max_frames:
        return (
            f"the video has {frames} frames, more than the limit of {limits.max_frames}; "
            "trim it or lower its frame rate and upload again"
        )
    if width * height * fps > limits.max_pixels_per_second:
        return (
            f"the video decodes {width}x{height} pixels at {fps:.0f} frames per second, over the "
            f"limit of {limits.max_pixels_per_second} pixels per second; lower its resolution or "
            "frame rate and upload again"
        )
    return None


def probe_upload(path: Path, *, limits: MediaLimits) -> dict[str, Any]:
    """Check by content that ``path`` is a video we analyse; return its probed facts.

    The probe itself is bounded: it stops reading after ``limits.max_frames`` packets or
    ``limits.probe_seconds``, so a file of millions of tiny frames is refused quickly.

    Raises:
        UnsupportedVideoError: not a decodable video (a still image, audio only, corrupt...),
            a single frame, or beyond the limits.
    """
    from deepverify.video.frames import probe_video  # the decoding stage owns PyAV probing

    try:
        info = probe_video(path, max_frames=limits.max_frames, max_seconds=limits.probe_seconds)
    except InvalidVideoError as exc:
        raise UnsupportedVideoError(str(exc)) from exc
    except Exception as exc:  # hostile files can trip errors the decoder does not wrap
        logger.warning("probing %s failed: %r", path.name, exc)
        raise UnsupportedVideoError(
            "the file could not be read as a video; upload an MP4, MOV, MKV, AVI or WebM video"
        ) from exc
    if info.frame_count < 2:
        raise UnsupportedVideoError("the file holds a single frame; upload a video file")
    media = asdict(info)
    reason = over_limit(media, limits)
    if reason is not None:
        raise UnsupportedVideoError(reason)
    return media
