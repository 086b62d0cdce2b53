"""Decompression bombs for videos: many frames or packets that cost almost nothing to store.

The frame bomb: one keyframe, then one all-skip P-frame (ten bytes) repeated: the file stays tiny
while decoding it walks every frame at full size, as in the attack of issue 12 (there at 4K). The
packet bomb: three frames and a flood of one-byte audio packets that every reader of the container
must wade through, as in issue 23.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
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


def make_packet_bomb(
    path: Path, *, audio_packets: int, frames: int = 3, width: int = 96, height: int = 64
) -> Path:
    """Write a Matroska file of ``frames`` video frames and ``audio_packets`` one-byte audio
    packets (about seven bytes each on disk): the non-video packet bomb of issue 23."""
    image = np.full((height, width, 3), 120, np.uint8)
    with av.open(str(path), mode="w", format="matroska") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast", "x264-params": "bframes=0:threads=1"}
        audio = container.add_stream("pcm_u8", rate=8000)
        audio.layout = "mono"
        for index in range(frames):
            picture = av.VideoFrame.from_ndarray(image, format="rgb24")
            picture.pts = index
            container.mux(video.encode(picture))
        container.mux(video.encode(None))
        for _ in range(audio_packets):
            packet = av.Packet(b"\x80")
            packet.stream, packet.time_base = audio, Fraction(1, 1000)
            packet.pts = packet.dts = 0
            container.mux(packet)
    return path


def make_tag_bomb(
    path: Path, *, tag_bytes: int, on: str = "container", key: str = "comment"
) -> Path:
    """Write a 5-frame MP4 with one tag of ``tag_bytes`` characters.

    ``on="container"`` puts it in the movie's user data (``moov/udta``); ``on="stream"`` makes
    it the video track's handler name (``moov/trak/mdia/hdlr``).
    """
    with av.open(str(path), "w", format="mp4", options={"movflags": "use_metadata_tags"}) as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        (out if on == "container" else stream).metadata[key] = "x" * tag_bytes
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), "rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


_MEASURE = """
import json, re, sys
from pathlib import Path
{setup}

def peak_kb():
    return int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1))

# The peak RSS is inherited across fork and exec (pytest's own): reset it to the current RSS
# first, or a reader that grows less than pytest once did shows no growth at all.
Path("/proc/self/clear_refs").write_text("5")
path = Path(sys.argv[1])
base = peak_kb()
try:
{work}
except Exception as exc:
    print(type(exc).__name__, file=sys.stderr)
print(json.dumps({{"grew_mb": (peak_kb() - base) / 1024}}))
"""


def memory_growth_mb(path: Path, *, setup: str, work: str) -> float:
    """How many MB of peak RSS ``work`` adds when it reads ``path`` in a fresh interpreter.

    Args:
        path: The file, as ``path`` in the child.
        setup: Imports, run before the baseline is taken (so loading libraries does not count).
        work: The statements measured (indented under a ``try``), reading ``path``.
    """
    code = _MEASURE.format(setup=setup, work=textwrap.indent(textwrap.dedent(work), "    "))
    run = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return float(json.loads(run.stdout)["grew_mb"])


def make_box_bomb(path: Path, *, boxes: int, inside: bytes | None = None, times: int = 1) -> Path:
    """Write an ISO BMFF file of ``boxes`` empty 8-byte ``free`` boxes after its ``ftyp``.

    ``inside=b"moov"`` nests them in a box of that type instead of the top level, ``times``
    such boxes one after another. The C2PA library's reading time grows with the square of the
    number of boxes side by side.
    """
    body = struct.pack(">I4s", 8, b"free") * boxes
    if inside is not None:
        body = (struct.pack(">I4s", 8 + len(body), inside) + body) * times
    path.write_bytes(struct.pack(">I4s", 16, b"ftyp") + b"isom\x00\x00\x02\x00" + body)
    return path


def make_chunk_bomb(path: Path, *, chunks: int) -> Path:
    """Write a RIFF (AVI) file of ``chunks`` empty ``JUNK`` chunks."""
    body = (b"JUNK" + struct.pack("<I", 0)) * chunks
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(body)) + b"AVI " + body)
    return path


def make_fragmented(path: Path, *, frames: int, fps: int = 10) -> Path:
    """Write a fragmented MP4 with a fragment per frame (every frame a keyframe)."""
    with av.open(
        str(path), "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov"}
    ) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "1"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i % 250, np.uint8), "rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def make_stream_bomb(path: Path, *, streams: int, fmt: str | None = None) -> Path:
    """Write a file of ``streams`` tiny H.264 video streams, two frames each.

    Identifying a stream on opening starts a decoder for it: the file is a few hundred KB, the
    decoders hundreds of MB.
    """
    with av.open(str(path), "w", format=fmt) as out:
        outs = []
        for _ in range(streams):
            stream = out.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            outs.append(stream)
        for i in range(2):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), "rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for stream in outs:
                out.mux(stream.encode(frame))
        for stream in outs:
            out.mux(stream.encode(None))
    return path
