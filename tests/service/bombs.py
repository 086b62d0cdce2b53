"""A decompression bomb for videos: many frames that cost almost nothing to store.

One keyframe, then one all-skip P-frame (ten bytes) repeated: the file stays tiny while
decoding it walks every frame at full size, as in the attack of issue 12 (there at 4K).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BOMB_FRAMES = 10_000


def make_frame_bomb(
    path: Path, *, frames: int = BOMB_FRAMES, width: int = 96, height: int = 64, fps: int = 25
) -> Path:
    """Write an H.264 MP4 of ``frames`` identical frames: one keyframe, the rest P-frames."""
    image = np.full((height, width, 3), 120, np.uint8)
    image[: height // 2, : width // 2] = 250
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x264-params": f"keyint={frames + 1}:bframes=0:threads=1",
        }
        picture = av.VideoFrame.from_ndarray(image, format="rgb24")
        picture.pts = 0
        container.mux(stream.encode(picture))
        picture.pts = 1
        skip = bytes(stream.encode(picture)[0])  # nothing changed: every block skipped
        for index in range(1, frames):
            packet = av.Packet(skip)
            packet.stream, packet.time_base = stream, stream.time_base
            packet.pts = packet.dts = index
            packet.duration = 1
            container.mux(packet)
    return path
