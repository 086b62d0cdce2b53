"""ISO base media files (MP4, QuickTime, 3GP, HEIF): their boxes, walked without parsing them.

A box header is one small read, so a few reads tell how large a file's parts are before a
library opens it, and some libraries copy a part whole into memory on opening: the C2PA library
its manifest store (:mod:`deepverify.provenance.credentials`), FFmpeg its tags
(:func:`oversized_tags`, checked by :func:`deepverify.video.io.open_container`); and some take
time that grows with the square of the boxes side by side (:func:`census` counts them for the
C2PA reader's bound). Every walk is bounded (:data:`MAX_BOXES` a level). Files are recognised by
their first bytes, never by their name: stored uploads have no suffix.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# Box types an ISO BMFF file can start with (FFmpeg's MP4 probe accepts these too).
TOP_LEVEL = frozenset(
    {b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"pnot", b"meta"}
)

MAX_BOXES = 100_000
"""Most boxes walked at one level of a file. Real files have a handful at each level, and a
fragmented recording two per fragment at the top (an hour cut every second: 7,200). A box costs
about a microsecond to walk in Python, so without a bound 500 MB of empty 8-byte boxes would
take over a minute."""

# Boxes made only of other boxes (ISO/IEC 14496-12, and QuickTime's tag list): what a reader
# descends into. ``meta`` is a full box (4 bytes of version and flags before its children).
CONTAINERS = frozenset(
    {
        b"moov", b"trak", b"edts", b"mdia", b"minf", b"dinf", b"stbl", b"mvex", b"moof",
        b"traf", b"mfra", b"udta", b"tref", b"sinf", b"schi", b"ipro", b"iprp", b"ipco",
        b"grpl", b"strk", b"strd", b"meco", b"ilst", b"meta",
    }
)  # fmt: skip

MAX_TAG_BOX_BYTES = 4 * 1024 * 1024
"""Largest box whose content FFmpeg turns into tags. Real ones are bytes to kilobytes (cover art
can reach a few megabytes); FFmpeg and PyAV copy a tag several times on opening, so a 50 MB
comment cost about 200 MB of memory just to open the file."""

# Where FFmpeg's MP4 demuxer makes tags of a box's content, by the path of the box's parent:
# user data and metadata boxes at the top, in the movie and in each track, and each track's
# handler name. Only these parents are entered.
_TAG_BOXES: dict[str, frozenset[bytes]] = {
    "": frozenset({b"udta", b"meta"}),
    "moov": frozenset({b"udta", b"meta"}),
    "moov/trak": frozenset({b"udta", b"meta"}),
    "moov/trak/mdia": frozenset({b"hdlr"}),
}


class TooManyBoxesError(ValueError):
    """A level of the file holds more boxes than the walk allows (:data:`MAX_BOXES`)."""


@dataclass(frozen=True)
class Box:
    """One box: its four-character type and where it lies in the file (header included)."""

    kind: bytes
    start: int
    size: int
    header: int

    @property
    def body(self) -> int:
        """Offset of the box's content, after its header."""
        return self.start + self.header

    @property
    def end(self) -> int:
        """Offset just past the box."""
        return self.start + self.size


def is_bmff(head: bytes) -> bool:
    """Whether a file whose first bytes are ``head`` (8 or more) is an ISO BMFF file."""
    return len(head) >= 8 and head[4:8] in TOP_LEVEL


def boxes(handle: BinaryIO, start: int, end: int, *, limit: int = MAX_BOXES) -> Iterator[Box]:
    """The boxes that follow one another from ``start`` to ``end`` in ``handle``.

    Stops at a malformed header (a size smaller than the header): the reading library reports
    that itself. A box whose size is 0 runs to ``end``.

    Raises:
        TooManyBoxesError: More than ``limit`` boxes lie between ``start`` and ``end``.
    """
    offset, count = start, 0
    while offset + 8 <= end:
        count += 1
        if count > limit:
            raise TooManyBoxesError(f"over {limit:,} boxes at one level of the file")
        handle.seek(offset)
        size, kind = struct.unpack(">I4s", handle.read(8))
        header = 8
        if size == 1:
            if offset + 16 > end:
                return
            size = struct.unpack(">Q", handle.read(8))[0]
            header = 16
        elif size == 0:
            size = end - offset
        if size < header:
            return
        yield Box(bytes(kind), offset, int(size), header)
        offset += size


@dataclass(frozen=True)
class Census:
    """How many boxes a file holds, and how crowded its levels are."""

    total: int  # boxes, those inside CONTAINERS included
    crowding: int  # the sum over every level (the top, each container) of its boxes squared


def census(handle: BinaryIO, end: int, *, limit: int) -> Census:
    """Count the file's boxes, those inside :data:`CONTAINERS` included.

    Counting stops once the total passes ``limit`` (it is then ``limit + 1``), so a hostile
    file costs at most ``limit`` box reads. Nesting is walked without recursion.
    """
    total = crowding = 0
    pending = [(0, end)]
    while pending and total <= limit:
        start, stop = pending.pop()
        here = 0
        for box in boxes(handle, start, stop, limit=limit + 1):  # the total stops first
            here += 1
            total += 1
            if total > limit:
                break
            if box.kind in CONTAINERS:
                pending.append((box.body + (4 if box.kind == b"meta" else 0), min(box.end, stop)))
        crowding += here * here
    return Census(total, crowding)


def oversized_tags(handle: BinaryIO, *, limit: int = MAX_TAG_BOX_BYTES) -> tuple[str, int] | None:
    """The path (``"moov/udta"``) and size of the first tag-holding box over ``limit`` bytes.

    ``None`` when there is none, or when ``handle`` is not an ISO BMFF file.

    Raises:
        TooManyBoxesError: A level walked holds more than :data:`MAX_BOXES` boxes.
    """
    handle.seek(0)
    if not is_bmff(handle.read(8)):
        return None
    end = handle.seek(0, 2)
    for path, box in _tag_boxes(handle, 0, end, ""):
        if box.size > limit:
            return path, box.size
    return None


def _tag_boxes(handle: BinaryIO, start: int, end: int, parent: str) -> Iterator[tuple[str, Box]]:
    for box in boxes(handle, start, end):
        name = box.kind.decode("latin-1")
        path = f"{parent}/{name}" if parent else name
        if box.kind in _TAG_BOXES.get(parent, frozenset()):
            yield path, box
        elif path in _TAG_BOXES:
            yield from _tag_boxes(handle, box.body, min(box.end, end), path)
