"""Face tracks read from one or more face-crop caches, split three ways by group.

:func:`load_split_tracks` reads every usable track of the caches and assigns each item, by its
``group`` (a real video and every fake made from it share one), to ``train``, ``val`` (chooses
the epoch) or ``calib`` (fits temperature and threshold), so the calibration data never chose
anything else. Its summary records which groups each split holds (``split_groups_sha256``),
which fine-tuning compares. :mod:`deepverify.training.clips` cuts clips from these tracks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from deepverify.errors import ConfigError, DatasetError
from deepverify.faces.tracks import MIN_TRACK_FRACTION
from deepverify.geometry import Box
from deepverify.training.cache_index import CacheRecord, read_index
from deepverify.training.config import DataConfig
from deepverify.training.datasets import VideoItem
from deepverify.training.splits import assign_splits, check_no_leak

logger = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "val", "calib")


@dataclass(frozen=True)
class TrackRef:
    """One face track of a cached item."""

    item_id: str
    label: int
    group: str
    crops: tuple[Path, ...]
    boxes: tuple[Box, ...]  # in cached-crop coordinates
    landmarks: tuple[tuple[tuple[float, float], ...] | None, ...]
    method: str = ""  # manipulation of a dataset fake ("" for real items)


def _cache_items(
    caches: Sequence[Path],
) -> tuple[list[tuple[Path, CacheRecord]], list[str]]:
    """Every usable record of every cache, item ids namespaced when there are several caches.

    Returns:
        (cache folder, record) pairs, and one message per group key found in more than one
        cache (kept together, which can only make the split stricter).
    """
    pairs: list[tuple[Path, CacheRecord]] = []
    groups_by_cache: dict[str, set[str]] = defaultdict(set)
    for cache_dir in caches:
        for record in read_index(cache_dir).items:
            if record.status != "ok":
                continue
            if len(caches) > 1:
                record = record.model_copy(update={"item_id": f"{cache_dir.name}:{record.item_id}"})
            groups_by_cache[record.group].add(cache_dir.name)
            pairs.append((cache_dir, record))
    shared = [
        f"group {group!r} appears in caches {', '.join(sorted(names))}; kept in one split"
        for group, names in sorted(groups_by_cache.items())
        if len(names) > 1
    ]
    for message in shared:
        logger.warning(message)
    return pairs, shared


@dataclass(frozen=True)
class KeptSplit:
    """The split of the run a config keeps (``data.keep_split_of``)."""

    groups: dict[str, str]  # group -> assign_splits' name (train, val, test)
    fingerprint: str  # that run's split_groups_sha256


@dataclass(frozen=True)
class _Split:
    """The caches' records and items, each item's split, and the split a config kept."""

    pairs: list[tuple[Path, CacheRecord]]
    shared_groups: list[str]  # one message per group found in several caches
    items: list[VideoItem]
    splits: dict[str, str]  # item id -> assign_splits' name (train, val, test)
    kept: KeptSplit | None  # the split of data.keep_split_of (None: none kept)


def _split(cache_list: list[Path], data: DataConfig) -> _Split:
    """Read the caches once and split their items by group, as ``data`` says."""
    pairs, shared_groups = _cache_items(cache_list)
    if not pairs:
        names = ", ".join(str(c) for c in cache_list)
        raise DatasetError(f"the cache {names} holds no item with a face; check the dataset")
    items = [record.video_item() for _, record in pairs]
    kept = None if data.keep_split_of is None else kept_split(data.keep_split_of)
    if kept is not None:
        items = [
            replace(i, split=kept.groups[i.group]) if i.group in kept.groups else i for i in items
        ]
    splits = assign_splits(
        items,
        val_fraction=data.val_fraction,
        test_fraction=data.calib_fraction,
        seed=data.split_seed,
    )
    check_no_leak(items, splits)
    return _Split(pairs, shared_groups, items, splits, kept)


def _kept_run(config: Path) -> tuple[list[Path], DataConfig]:
    """The caches and data settings of the run whose split ``config`` describes.

    Raises:
        ConfigError: ``config`` is not a training config, names no cache, or keeps another
            one's split itself (one level is enough, and a chain could loop).
    """
    from deepverify.training.config import load_config

    base = load_config(config).data
    if base.cache is None:
        raise ConfigError(f"data.keep_split_of {config}: that config names no data.cache")
    if base.keep_split_of is not None:
        raise ConfigError(f"data.keep_split_of {config}: that config keeps another split itself")
    return [base.cache, *base.extra_caches], base


def kept_split(config: Path) -> KeptSplit:
    """The groups' splits and the fingerprint of the run that ``config`` describes.

    Reads that run's caches once (the caller's own caches are read apart).
    """
    caches, base = _kept_run(config)
    found = _split(caches, base)
    groups = {item.group: found.splits[item.item_id] for item in found.items}
    return KeptSplit(groups, _fingerprint(found.items, found.splits, _renamer(base)))


def _renamer(data: DataConfig) -> dict[str, str]:
    """Split names of :func:`assign_splits` -> this module's (its test split calibrates)."""
    return {"train": "train", "val": "val", "test": "calib" if data.calib_fraction else "test"}


def _fingerprint(items: Sequence[VideoItem], splits: dict[str, str], rename: dict[str, str]) -> str:
    """Which groups each split holds, whatever the caches are called.

    Fine-tuning and fitting a decision policy compare it with a model's card
    (``split_groups_sha256``).
    """
    members = {
        split: sorted({i.group for i in items if rename[splits[i.item_id]] == split})
        for split in (*SPLIT_NAMES, "test")
    }
    return hashlib.sha256(json.dumps(members, sort_keys=True).encode()).hexdigest()


def split_videos(
    caches: Sequence[Path], data: DataConfig
) -> tuple[dict[str, list[VideoItem]], str]:
    """The cached videos of each split, exactly as :func:`load_split_tracks` splits their tracks.

    Fitting a decision policy scores whole videos of the calibration and validation splits
    through the scan pipeline; this says which videos those are.

    Returns:
        Split name -> videos, and the split's fingerprint (``split_groups_sha256``).
    """
    found = _split(list(caches), data)
    rename = _renamer(data)
    out: dict[str, list[VideoItem]] = {name: [] for name in (*SPLIT_NAMES, "test")}
    for item in found.items:
        out[rename[found.splits[item.item_id]]].append(item)
    return out, _fingerprint(found.items, found.splits, rename)


def load_split_tracks(
    caches: Path | Sequence[Path], data: DataConfig
) -> tuple[dict[str, list[TrackRef]], dict[str, Any]]:
    """Read the caches, split their items by group and return the usable tracks per split.

    Splits: ``train``; ``val`` (``data.val_fraction`` of the groups, chooses the epoch);
    ``calib`` (``data.calib_fraction``, fits temperature and threshold; empty when 0, and the
    validation split calibrates too). A dataset's own test split is never used.

    Returns:
        Split name -> tracks, and a summary (items and groups per split and label).

    Raises:
        DatasetError: Not a cache, or no usable real track in the training split.
    """
    cache_list = [caches] if isinstance(caches, Path) else list(caches)
    found = _split(cache_list, data)
    items, splits = found.items, found.splits
    rename = _renamer(data)
    tracks: dict[str, list[TrackRef]] = {name: [] for name in (*SPLIT_NAMES, "test")}
    summary: dict[str, Any] = {"caches": [c.name for c in cache_list]}
    if found.shared_groups:
        summary["groups_in_several_caches"] = len(found.shared_groups)
    for cache_dir, record in found.pairs:
        split = rename[splits[record.item_id]]
        least = max(data.min_track_frames, math.ceil(MIN_TRACK_FRACTION * len(record.frames)))
        for t in record.tracks:
            if len(t.crops) < least:
                continue
            tracks[split].append(
                TrackRef(
                    item_id=record.item_id,
                    label=record.label,
                    group=record.group,
                    crops=tuple(cache_dir / c for c in t.crops),
                    boxes=t.crop_boxes,
                    landmarks=t.crop_landmarks,
                    method=record.method,
                )
            )
        key = f"{split}_{'fake' if record.label else 'real'}_items"
        summary[key] = summary.get(key, 0) + 1
    for split in tracks:
        groups = {i.group for i in items if rename[splits[i.item_id]] == split}
        if groups or split in ("train", "val"):
            summary[f"{split}_groups"] = len(groups)
    summary["split_groups_sha256"] = _fingerprint(items, splits, rename)
    if found.kept is not None:
        summary["kept_split_groups_sha256"] = found.kept.fingerprint
    tracks.pop("test")
    if not any(t.label == 0 for t in tracks["train"]):
        raise DatasetError(f"the caches {cache_list} have no real face track for training")
    return tracks, summary
