"""Dataset formats: turn a dataset folder in its published layout into a list of labelled items.

Formats are a registry (:data:`FORMATS`); :func:`load_dataset` picks one by name and an unknown
name raises :class:`~deepverify.errors.DatasetError` listing the valid ones. Every item carries a
``group``: the source video or identity it derives from. Splits keep a group together, so a real
video and the fakes made from it never land on both sides of a split.

This module holds the registry and the project's own folder format; the items and shared file
helpers are in :mod:`~deepverify.training.items`, manifests in
:mod:`~deepverify.training.manifest`, and the published layouts (DFDC, FaceForensics++, Celeb-DF)
in :mod:`~deepverify.training.layouts`. Their public names are re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deepverify.errors import DatasetError
from deepverify.training.items import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    VideoItem,
    media_files,
    safe_id,
)
from deepverify.training.layouts import (
    FFPP_COMPRESSIONS,
    FFPP_METHODS,
    DatasetOptions,
    load_celebdf,
    load_dfdc,
    load_ffpp,
)
from deepverify.training.manifest import (
    MANIFEST_NAME,
    ManifestReport,
    ManifestRow,
    find_manifest,
    read_manifest,
)

__all__ = [
    "FFPP_COMPRESSIONS",
    "FFPP_METHODS",
    "FORMATS",
    "IMAGE_EXTENSIONS",
    "MANIFEST_NAME",
    "VIDEO_EXTENSIONS",
    "DatasetFormat",
    "DatasetOptions",
    "Loader",
    "ManifestReport",
    "ManifestRow",
    "VideoItem",
    "available_formats",
    "find_manifest",
    "load_celebdf",
    "load_dataset",
    "load_dfdc",
    "load_ffpp",
    "load_folder",
    "read_manifest",
]

logger = logging.getLogger(__name__)

Loader = Callable[[Path, DatasetOptions], list[VideoItem]]


@dataclass(frozen=True)
class DatasetFormat:
    """A registered dataset layout."""

    name: str
    description: str
    load: Loader = field(repr=False)


def load_folder(root: Path, options: DatasetOptions) -> list[VideoItem]:
    """``real/`` and ``fake/`` subfolders of videos or images; either may be absent, not both.

    Without a manifest the group of an item is its file stem, so ``x.jpg`` and ``x.mp4`` stay
    together. With one (``root/manifest.json`` or the parent's, listing ``file``, ``label``,
    ``group``, ``manipulation``) each file takes its group and manipulation from its row; a file
    whose row contradicts its folder, or that has no row, is reported and skipped.
    """
    folders = {label: root / name for label, name in ((0, "real"), (1, "fake"))}
    if not any(f.is_dir() for f in folders.values()):
        raise DatasetError(
            f"{root} has neither a real/ nor a fake/ subfolder; the folder format expects "
            "real/ and fake/ subfolders of videos"
        )
    report = options.report if options.report is not None else ManifestReport()
    manifest_path = options.manifest or find_manifest(root)
    manifest = read_manifest(manifest_path, report) if manifest_path else None
    items: list[VideoItem] = []
    for label, folder in folders.items():
        if not folder.is_dir():
            logger.info("%s has no %s/ subfolder", root, folder.name)
            continue
        for path in media_files(folder, VIDEO_EXTENSIONS | IMAGE_EXTENSIONS):
            group, method = path.stem, ""
            if manifest is not None:
                row = manifest.get(path.resolve())
                if row is None:
                    report.skip(f"{folder.name}/{path.name} is not in {manifest_path}")
                    continue
                if row.label != label:
                    report.skip(
                        f"{folder.name}/{path.name} is labelled "
                        f"{'FAKE' if row.label else 'REAL'} in the manifest"
                    )
                    continue
                group, method = row.group, row.method
            items.append(
                VideoItem(
                    path=path,
                    label=label,
                    group=group,
                    item_id=safe_id(f"{folder.name}_{path.name}"),
                    method=method,
                )
            )
    if not items:
        raise DatasetError(f"no videos or images found in {root}/real or {root}/fake")
    return items


FORMATS: dict[str, DatasetFormat] = {
    fmt.name: fmt
    for fmt in (
        DatasetFormat("folder", "real/ and fake/ subfolders", load_folder),
        DatasetFormat("dfdc", "DFDC train parts (metadata.json) and test labels.csv", load_dfdc),
        DatasetFormat("ffpp", "FaceForensics++ original/manipulated sequences", load_ffpp),
        DatasetFormat("celebdf", "Celeb-DF v2", load_celebdf),
    )
}


def available_formats() -> list[str]:
    """Names of the registered dataset formats."""
    return sorted(FORMATS)


def load_dataset(
    root: Path, fmt: str = "folder", options: DatasetOptions | None = None
) -> list[VideoItem]:
    """Read a dataset folder in the layout of format ``fmt``.

    Raises:
        DatasetError: Unknown format, missing folder, or a folder not in the format's layout.
    """
    if fmt not in FORMATS:
        raise DatasetError(
            f"unknown dataset format {fmt!r}; valid: {', '.join(available_formats())}"
        )
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    items = FORMATS[fmt].load(root, options or DatasetOptions())
    ids = [item.item_id for item in items]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{root}: two items share an id; rename the duplicated files")
    missing = sum(not item.path.is_file() for item in items)
    if missing:
        logger.warning("%d of %d listed files are missing under %s", missing, len(items), root)
    return items
