"""Generate small test videos with PyAV (there is no ffmpeg binary): any container and codec.

Frames carry their own number so tests can tell which frame they got back: the top band holds
frame ``i`` in binary, 8 black/white blocks, most significant first (:func:`frame_number_of`
reads it back, up to 255 frames), and a fixed white marker sits just below it in the top-left
quarter so rotation can be checked. With ``face_image`` the
picture is that image (resized), which lets detector tests run on generated clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

# Codecs that need an even frame size (4:2:0 chroma subsampling).
_PIX_FMT = {"gif": "rgb8", "mjpeg": "yuvj420p", "png": "rgb24"}


def frame_image(index: int, width: int, height: int, base: np.ndarray | None = None) -> np.ndarray:
    """The RGB picture of frame ``index``: ``base`` (or grey) plus its number and a marker."""
    if base is None:
        image = np.full((height, width, 3), 96, np.uint8)
        image[height // 4 : height // 2, : width // 4] = 255  # upright marker, top-left
    else:
        image = base.copy()
    block, band = width // 8, min(8, height // 4)
    for bit in range(8):
        on = (index >> (7 - bit)) & 1
        image[:band, bit * block : (bit + 1) * block] = 255 if on else 0
    return image


def frame_number_of(image: np.ndarray) -> int:
    """Recover the frame number written by :func:`frame_image` (the image must be upright)."""
    block, band = image.shape[1] // 8, min(8, image.shape[0] // 4)
    number = 0
    for bit in range(8):
        cell = image[
            band // 4 : band * 3 // 4, bit * block + block // 4 : (bit + 1) * block - block // 4
        ]
        number = number * 2 + int(cell.mean() > 128)
    return number


def make_video(
    path: Path,
    *,
    width: int = 64,
    height: int = 48,
    fps: float = 10,
    seconds: float = 1.0,
    codec: str = "libx264",
    container: str | None = None,
    rotation: int = 0,
    face_image: Path | None = None,
    timestamps: Sequence[float] | None = None,
) -> Path:
    """Write a test video and return its path.

    Args:
        path: Output file; its suffix picks the container unless ``container`` is given.
        width: Frame width in pixels.
        height: Frame height in pixels.
        fps: Frame rate (the stream's nominal rate when ``timestamps`` is given).
        seconds: Length; ``round(fps * seconds)`` frames.
        codec: PyAV encoder name: ``libx264``, ``mpeg4``, ``libvpx``, ``libvpx-vp9``, ``gif``...
        container: FFmpeg muxer name, e.g. ``"mp4"``, ``"matroska"``; default from the suffix.
        rotation: Counter-clockwise display rotation written as metadata (display matrix).
        face_image: Optional picture (any size) used as every frame's content.
        timestamps: Explicit presentation times in seconds (variable frame rate); overrides
            ``fps * seconds`` for the frame count.
    """
    base = None
    if face_image is not None:
        bgr = cv2.imread(str(face_image), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(face_image)
        base = cv2.cvtColor(cv2.resize(bgr, (width, height)), cv2.COLOR_BGR2RGB)
    times = list(timestamps) if timestamps is not None else None
    count = len(times) if times is not None else max(1, round(fps * seconds))
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = _PIX_FMT.get(codec, "yuv420p")
        if times is not None:
            stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(count):
            frame = av.VideoFrame.from_ndarray(frame_image(i, width, height, base), format="rgb24")
            if times is not None:
                frame.pts = round(times[i] * 1000)
                frame.time_base = Fraction(1, 1000)
            else:
                frame.pts = i
                frame.time_base = 1 / rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path
