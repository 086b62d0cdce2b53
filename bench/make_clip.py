"""Encode a 1080p H.264 benchmark clip of a real talking face; run as its own process.

The source clip (720p) is decoded and upscaled one frame at a time, looped forward as often as
needed, so this process never holds more than a frame: it runs apart from the benchmark so that
no measurement inherits its memory.
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import av
import cv2

WIDTH, HEIGHT = 1920, 1080


def generate(source: Path, out: Path, seconds: float, fps: int = 30) -> None:
    """Write ``seconds`` of 1080p video at ``fps`` to ``out`` (atomically)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".partial.mp4")
    total = int(seconds * fps)
    written = 0
    with av.open(str(tmp), "w") as sink:
        stream = sink.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        stream.time_base = Fraction(1, fps)
        while written < total:
            with av.open(str(source)) as reader:
                for decoded in reader.decode(video=0):
                    image = cv2.resize(
                        decoded.to_ndarray(format="rgb24"), (WIDTH, HEIGHT),
                        interpolation=cv2.INTER_LINEAR,
                    )  # fmt: skip
                    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                    frame.pts = written
                    sink.mux(stream.encode(frame))
                    written += 1
                    if written >= total:
                        break
        sink.mux(stream.encode(None))
    tmp.replace(out)


def main() -> None:
    """Encode the benchmark clip described on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("seconds", type=float)
    args = parser.parse_args()
    generate(args.source, args.out, args.seconds)


if __name__ == "__main__":
    main()
