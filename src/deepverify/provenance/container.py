"""Container and stream tags that hint at a video's origin, read with PyAV.

Anyone can write these tags, so they are hints for a human, never evidence the verdict uses.
Location tags are kept apart (:attr:`ContainerMetadata.location`): they go to the video's owner
in the report and are never logged.
"""

from __future__ import annotations

import logging
from pathlib import Path

from deepverify.errors import InvalidVideoError
from deepverify.provenance.schema import ContainerMetadata, MetadataTag

logger = logging.getLogger(__name__)

# Raw tag (lower case) -> what it means. Only these are reported: the rest is noise.
HINT_LABELS: dict[str, str] = {
    "encoder": "Encoder",
    "encoded_by": "Encoded by",
    "writing_app": "Writing application",
    "writing_application": "Writing application",
    "software": "Software",
    "creation_time": "Creation time",
    "date": "Date",
    "make": "Device make",
    "model": "Device model",
    "com.apple.quicktime.make": "Device make",
    "com.apple.quicktime.model": "Device model",
    "com.apple.quicktime.software": "Device software",
    "com.apple.quicktime.creationdate": "Creation date (device)",
    "com.android.manufacturer": "Device make",
    "com.android.model": "Device model",
    "com.android.version": "Android version",
    "handler_name": "Handler name",
    "vendor_id": "Vendor",
    "major_brand": "File brand",
    "comment": "Comment",
    "rotate": "Rotation (degrees)",
}
# Any tag whose name contains one of these is a location.
LOCATION_MARKERS = ("location", "gps", "iso6709")

MAX_TAGS = 60
MAX_VALUE = 200


def _split(tags: dict[str, str], source: str) -> tuple[list[MetadataTag], list[MetadataTag]]:
    """The hint and location tags among ``tags``, each list cut short as a report keeps it.

    At most :data:`MAX_TAGS` of each; names and values cut to :data:`MAX_VALUE` characters.
    """
    hints: list[MetadataTag] = []
    location: list[MetadataTag] = []
    for key, value in tags.items():
        lowered = key.lower()
        name, text = key[:MAX_VALUE], str(value)[:MAX_VALUE]
        if any(marker in lowered for marker in LOCATION_MARKERS):
            if len(location) < MAX_TAGS:
                location.append(MetadataTag(label="Location", key=name, value=text, source=source))
        elif lowered in HINT_LABELS and len(hints) < MAX_TAGS:
            hints.append(
                MetadataTag(label=HINT_LABELS[lowered], key=name, value=text, source=source)
            )
    return hints, location


def read_container_metadata(path: Path, *, max_seconds: float | None = None) -> ContainerMetadata:
    """The verification-relevant tags of ``path``; never raises for a bad file.

    Rotation comes from the ``rotate`` tag where the demuxer exposes it; the upright rotation the
    decoder applied is in the report's video section either way. Opening is bounded: a file
    FFmpeg needs longer than ``max_seconds`` (default
    :data:`~deepverify.video.io.MAX_OPEN_SECONDS`) to open, or an MP4 whose tag boxes are over
    :data:`~deepverify.video.isobmff.MAX_TAG_BOX_BYTES`, reads as "unreadable" with the reason.
    """
    import av

    from deepverify.video.io import open_container  # bounded; no NumPy (see video.io)

    try:
        with open_container(path, max_seconds=max_seconds) as container:
            hints, location = _split(dict(container.metadata), "container")
            for stream in container.streams:
                more, where = _split(dict(stream.metadata), f"{stream.type} stream {stream.index}")
                hints += more
                location += where
            name = container.format.name
    except (InvalidVideoError, av.FFmpegError, OSError, ValueError, UnicodeError) as exc:
        logger.debug("container metadata of %s unreadable: %s", path.name, type(exc).__name__)
        return ContainerMetadata(status="unreadable", reason=" ".join(str(exc).split())[:200])
    return ContainerMetadata(
        status="read", format=name, hints=hints[:MAX_TAGS], location=location[:MAX_TAGS]
    )
