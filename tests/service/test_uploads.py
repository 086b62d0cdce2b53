"""Receiving uploads: names made safe, the stream cut at the limit, nothing left on failure."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from deepverify.service.core import storage
from deepverify.service.core.uploads import (
    UploadError,
    UploadTooLargeError,
    receive_file,
    safe_filename,
)

BOUNDARY = "b0undary"
CTYPE = f"multipart/form-data; boundary={BOUNDARY}"


TOO_LARGE = r"the upload is larger than the limit of \d+ bytes"


def _body(data: bytes, name: str = "clip.mp4") -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: video/mp4\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


async def _chunks(data: bytes, size: int = 1000, fail_after: int | None = None):
    for n, start in enumerate(range(0, len(data), size)):
        if fail_after is not None and n == fail_after:
            raise ConnectionResetError("client went away")
        yield data[start : start + size]


def _receive(body, tmp_path, max_bytes=10_000, length=None, content_type=CTYPE):
    """Receive as the service does; return what was received and the file's bytes then."""

    async def run():
        with storage.receiving(tmp_path / "incoming") as part:
            received = await receive_file(
                body=body, content_type=content_type, content_length=length, part=part,
                max_bytes=max_bytes,
            )  # fmt: skip
            return received, received.path.read_bytes()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\video.mp4", "video.mp4"),
        ("a\x00b\x1f.mp4", "ab.mp4"),
        ("..", "upload"),
        ("", "upload"),
        (".hidden.mp4", "hidden.mp4"),
        ("x" * 400 + ".mp4", "x" * 255),
        ("  spaced   out .mp4 ", "spaced out .mp4"),
    ],
)
def test_safe_filename(raw, safe):
    assert safe_filename(raw) == safe


def test_file_is_streamed_to_a_generated_name_with_its_hash(tmp_path):
    data = bytes(range(256)) * 30
    received, content = _receive(_chunks(_body(data, "../x.mp4")), tmp_path)
    assert content == data
    assert received.sha256 == hashlib.sha256(data).hexdigest()
    assert received.filename == "x.mp4" and received.size_bytes == len(data)
    assert received.path.parent == tmp_path / "incoming" and "x.mp4" not in received.path.name


def test_over_the_limit_is_cut_off_and_removed(tmp_path):
    with pytest.raises(UploadTooLargeError, match=TOO_LARGE):
        _receive(_chunks(_body(b"\0" * 20_000)), tmp_path)
    assert list((tmp_path / "incoming").iterdir()) == []
    with pytest.raises(UploadTooLargeError, match=TOO_LARGE):  # from the declared length
        _receive(_chunks(b""), tmp_path, length=str(10**9))


def test_client_disconnect_leaves_nothing(tmp_path):
    with pytest.raises(ConnectionResetError, match="client went away"):
        _receive(_chunks(_body(b"\1" * 8000), fail_after=3), tmp_path)
    assert list((tmp_path / "incoming").iterdir()) == []


def test_not_multipart_is_refused(tmp_path):
    with pytest.raises(
        UploadError, match="send the video as multipart/form-data with a 'file' field"
    ):
        _receive(_chunks(b"raw"), tmp_path, max_bytes=100, content_type="video/mp4")
