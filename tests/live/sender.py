"""A loopback live stream for tests and the bench: HTTP-FLV served from a clip, forever.

There is no ffmpeg binary here, and PyAV's HTTP output cannot listen, so a small HTTP server
muxes the clip's packets (copied, not re-encoded) into FLV on each client's connection, paced
to real time and looped (``ffmpeg -re -stream_loop -1 -i CLIP -c copy -f flv`` in effect).
:func:`short_gop_copy` re-encodes a clip with a keyframe every second first: a live reader that
opens with ``fflags=nobuffer`` starts decoding at the first keyframe it sees.

Run: ``python -m tests.live.sender CLIP PORT`` (prints ``ready`` once listening). Killing the
process drops every client: the way a stream goes down.
"""

from __future__ import annotations

import contextlib
import sys
import time
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import cv2
import numpy as np


def short_gop_copy(
    source: Path,
    out: Path,
    *,
    size: tuple[int, int] | None = None,
    rate: int | None = None,
    seconds: float | None = None,
    bit_rate: int | None = None,
) -> Path:
    """Re-encode ``source`` to H.264 with a keyframe every second, optionally resized.

    Args:
        source: The clip.
        out: Where to write the MP4.
        size: ``(width, height)`` to resize to; the clip's own when None.
        rate: Frames per second to label the frames with (every frame is kept, so the clip
            plays slower or faster); the clip's own when None.
        seconds: Stop after this much video (the whole clip when None).
        bit_rate: Encode at this average rate in bits per second (x264's ABR) instead of at
            constant quality (CRF 23).
    """
    with av.open(str(source)) as reader, av.open(str(out), "w") as sink:
        vin = reader.streams.video[0]
        fps = rate or round(vin.average_rate or 25)
        stream = sink.add_stream("libx264", rate=fps)
        width, height = size or (vin.codec_context.width, vin.codec_context.height)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        quality = {"crf": "23"} if bit_rate is None else {}
        stream.options = {"preset": "veryfast", "g": str(fps), "bf": "0", **quality}
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        stream.time_base = Fraction(1, fps)
        for k, frame in enumerate(reader.decode(vin)):
            if seconds is not None and k >= seconds * fps:
                break
            image = frame.to_ndarray(format="rgb24")
            if size is not None:
                image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
            picture = av.VideoFrame.from_ndarray(image, format="rgb24")
            picture.pts = k
            sink.mux(stream.encode(picture))
        sink.mux(stream.encode(None))
    return out


def _handler(clip: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "video/x-flv")
            self.end_headers()
            with contextlib.suppress(OSError, av.FFmpegError):  # the client went away
                _serve(clip, self.wfile)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def _serve(clip: Path, wfile: object) -> None:
    """Mux the clip, looped forever, into FLV on ``wfile`` at real speed."""
    with av.open(str(clip)) as reader, av.open(wfile, "w", format="flv") as sink:
        vin = reader.streams.video[0]
        vout = sink.add_stream_from_template(vin)
        base = vin.time_base or Fraction(1, 1000)
        started, offset = time.monotonic(), 0
        while True:
            reader.seek(0)
            end = 0
            for packet in reader.demux(vin):
                if packet.pts is None or packet.dts is None:
                    continue
                wait = started + float((offset + packet.dts) * base) - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                end = max(end, packet.pts + (packet.duration or 0))
                packet.pts += offset
                packet.dts += offset
                packet.stream = vout
                sink.mux(packet)
                wfile.flush()  # type: ignore[attr-defined]
            offset += end


def main() -> None:
    """``python -m tests.live.sender CLIP PORT``, or ``... prepare SOURCE OUT WIDTH HEIGHT RATE``
    to write :func:`short_gop_copy` of a clip (the bench's 720p25 stream)."""
    if sys.argv[1] == "prepare":
        source, out, width, height, rate = sys.argv[2:7]
        short_gop_copy(Path(source), Path(out), size=(int(width), int(height)), rate=int(rate))
        return
    clip, port = Path(sys.argv[1]), int(sys.argv[2])
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(clip))
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
