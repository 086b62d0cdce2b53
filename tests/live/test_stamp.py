"""The burned-in clock of :mod:`tests.live.stamp` survives H.264, read back to the millisecond."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.live.stamp import BLOCK, read_stamp, stamp_yuv420p

T0 = 1_765_000_000.0  # an arbitrary wall-clock time, 2025-12-06


def _encode(clip: Path, out: Path, times: list[float | None]) -> None:
    """The clip's first frames, each stamped with its entry of ``times`` (None: left plain)."""
    with av.open(str(clip)) as reader, av.open(str(out), "w") as sink:
        vin = reader.streams.video[0]
        stream = sink.add_stream("libx264", rate=25)
        stream.width, stream.height = vin.codec_context.width, vin.codec_context.height
        stream.pix_fmt = "yuv420p"
        # Coarser than the sender's ffmpeg (CRF 23): the stamp holds with room to spare.
        stream.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": "35", "g": "25"}
        stream.time_base = Fraction(1, 25)
        for k, (frame, when) in enumerate(zip(reader.decode(vin), times, strict=False)):
            planes = frame.to_ndarray(format="yuv420p")
            if when is not None:
                stamp_yuv420p(planes, when)
            picture = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            picture.pts = k
            sink.mux(stream.encode(picture))
        sink.mux(stream.encode(None))


def _decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_stamps_read_back_to_the_millisecond_after_h264(stream_clip: Path, tmp_path: Path) -> None:
    # Uneven steps, so that every bit of the milliseconds changes somewhere.
    times: list[float | None] = [T0 + k * 0.0413 + (k % 7) * 0.1009 for k in range(40)]
    times[5] = times[17] = None
    _encode(stream_clip, tmp_path / "stamped.mp4", times)
    images = _decoded(tmp_path / "stamped.mp4")
    assert len(images) == len(times)
    now = T0 + 10.0
    read = [read_stamp(image, now=now) for image in images]
    expected = [None if t is None else int(t * 1000) / 1000 for t in times]
    assert read == expected


def test_a_stamp_is_read_as_the_latest_time_before_now() -> None:
    planes = np.full((48 * 3 // 2, 512), 128, np.uint8)  # 512x48, grey
    stamp_yuv420p(planes, T0)
    image = np.repeat(planes[:48, :, None], 3, axis=2)  # luma as grey RGB: enough to read
    # Read an hour later, and with the 24 bits of milliseconds wrapped (every 4.66 hours) between.
    assert read_stamp(image, now=T0 + 3600.0) == T0
    assert read_stamp(image, now=T0 + 4 * 3600.0) == T0
    assert read_stamp(image, now=T0 + 0.0005) == T0


def test_a_damaged_or_missing_stamp_reads_as_none() -> None:
    planes = np.full((48 * 3 // 2, 512), 128, np.uint8)
    stamp_yuv420p(planes, T0)
    image = np.repeat(planes[:48, :, None], 3, axis=2)
    assert read_stamp(image, now=T0 + 1.0) == T0
    for block in (0, 12, 31):  # a data bit, another, a check bit
        damaged = image.copy()
        spot = damaged[:BLOCK, block * BLOCK : (block + 1) * BLOCK]
        spot[...] = 255 - spot
        assert read_stamp(damaged, now=T0 + 1.0) is None
    assert read_stamp(np.zeros((48, 512, 3), np.uint8), now=T0) is None
    assert read_stamp(np.zeros((48, 256, 3), np.uint8), now=T0) is None  # too narrow
