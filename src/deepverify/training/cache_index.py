"""The face-crop cache's records, typed: what ``extract`` writes and training reads.

One :class:`CacheRecord` per dataset item (``items/<item_id>.json``) and one :class:`CacheIndex`
gathering them (``index.json``); the JSON on disk is their ``model_dump(mode="json")``, so the
format of version :data:`CACHE_VERSION` is exactly what these models say. :func:`write_index`
gathers the records, :func:`read_index` reads them back, :func:`cache_detector` names the
detector a cache was cut with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from deepverify.errors import DatasetError
from deepverify.files import atomic_write_text
from deepverify.geometry import Box
from deepverify.training.items import VideoItem

CACHE_VERSION = 1
"""Bump when the records change shape; :func:`read_index` then asks for a new extraction."""

Status = Literal["ok", "no_face", "failed"]
STATUSES: tuple[Status, ...] = ("ok", "no_face", "failed")
Points = tuple[tuple[float, float], ...]
Window = tuple[int, int, int, int]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class CachedFrame(_Frozen):
    """One sampled frame of an item: its index in the stream and its time in seconds."""

    index: int
    timestamp: float


class CachedTrack(_Frozen):
    """One face track of an item, one entry per sampled frame it is seen in.

    Attributes:
        track_id: The track's number in its item (0.., by first appearance).
        positions: Indices into the item's ``frames``.
        boxes: Face boxes in full-frame pixels.
        scores: Detector confidences.
        windows: The cached crops' square windows in full-frame pixels.
        crop_boxes: Face boxes in cached-crop pixels (what training crops around).
        crop_landmarks: Landmarks in cached-crop pixels (five or 68 points), or None.
        crops: The cached crops' PNG files, relative to the cache folder.
    """

    track_id: int
    positions: tuple[int, ...]
    boxes: tuple[Box, ...]
    scores: tuple[float, ...]
    windows: tuple[Window, ...]
    crop_boxes: tuple[Box, ...]
    crop_landmarks: tuple[Points | None, ...]
    crops: tuple[str, ...]


class CacheRecord(_Frozen):
    """What extraction found in one dataset item.

    Attributes:
        item_id, path, label, group, split, method: The :class:`VideoItem` it was made from.
        status: ``ok`` (faces found), ``no_face``, or ``failed`` (unreadable media).
        error: Why it failed (None unless ``failed``).
        frames: The sampled frames, in time order.
        tracks: The face tracks, by first appearance.
    """

    item_id: str
    path: str
    label: int
    group: str
    split: str | None
    method: str
    status: Status = "ok"
    error: str | None = None
    frames: tuple[CachedFrame, ...] = ()
    tracks: tuple[CachedTrack, ...] = ()

    @classmethod
    def of(cls, item: VideoItem) -> CacheRecord:
        """An ``ok`` record of ``item`` with no frames and no tracks yet."""
        return cls(
            item_id=item.item_id,
            path=str(item.path),
            label=item.label,
            group=item.group,
            split=item.split,
            method=item.method,
        )

    def video_item(self) -> VideoItem:
        """The dataset item this record was made from."""
        return VideoItem(
            Path(self.path), self.label, self.group, self.item_id, self.split, self.method
        )


class CacheIndex(_Frozen):
    """``index.json``: the extraction's options and source, a count per status, every record."""

    version: int
    options: dict[str, object]
    dataset: dict[str, str]
    summary: dict[Status, int]
    items: tuple[CacheRecord, ...]


def read_record(path: Path) -> CacheRecord:
    """One item's record.

    Raises:
        DatasetError: The file is unreadable or not a record (re-run ``deepverify extract``).
    """
    try:
        return CacheRecord.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise DatasetError(
            f"{path} is not a cache record ({_first_error(exc)}); delete it and re-run "
            "`deepverify extract`"
        ) from None


def item_records(cache_dir: Path) -> Iterator[CacheRecord]:
    """The records of ``cache_dir/items``, by item id."""
    for path in sorted((cache_dir / "items").glob("*.json")):
        yield read_record(path)


def read_index(cache_dir: Path) -> CacheIndex:
    """Read a cache's ``index.json``.

    Raises:
        DatasetError: Not a cache folder (run ``deepverify extract`` first), a cache of another
            version, or a damaged index.
    """
    path = cache_dir / "index.json"
    if not path.is_file():
        raise DatasetError(
            f"{cache_dir} is not a face-crop cache (no index.json); run `deepverify extract` first"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}; re-run `deepverify extract`") from exc
    version = raw.get("version") if isinstance(raw, dict) else None
    if version != CACHE_VERSION:
        raise DatasetError(
            f"{path} has cache version {version}, expected {CACHE_VERSION}; "
            "re-run `deepverify extract` into a new folder"
        )
    try:
        return CacheIndex.model_validate(raw)
    except ValidationError as exc:
        raise DatasetError(
            f"{path} is damaged ({_first_error(exc)}); re-run `deepverify extract`"
        ) from None


def cache_detector(cache_dir: Path) -> str:
    """The face detector whose boxes a cache's crops were cut from (from ``cache.json``)."""
    try:
        meta = json.loads((cache_dir / "cache.json").read_text(encoding="utf-8"))
        return str(meta["options"]["detector"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(
            f"{cache_dir} is not a face-crop cache (cache.json: {exc}); "
            "run `deepverify extract` first"
        ) from None


def write_index(cache_dir: Path) -> CacheIndex:
    """Gather the item records into ``index.json`` (with a count per status) and return it."""
    meta = json.loads((cache_dir / "cache.json").read_text(encoding="utf-8"))
    records = tuple(item_records(cache_dir))
    index = CacheIndex(
        **meta,
        summary={status: sum(r.status == status for r in records) for status in STATUSES},
        items=records,
    )
    atomic_write_text(cache_dir / "index.json", index.model_dump_json())
    return index


def _first_error(exc: Exception) -> str:
    """A one-line reason: pydantic's first error with where it is, else the exception."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(exc)
