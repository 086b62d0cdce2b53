"""Dataset items: what every dataset format yields, and the file helpers the formats share.

This is the bottom of the dataset modules: :mod:`~deepverify.training.manifest`,
:mod:`~deepverify.training.layouts` and :mod:`~deepverify.training.datasets` import from it, and
it imports none of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from deepverify.defaults import VIDEO_SUFFIXES
from deepverify.errors import DatasetError

VIDEO_EXTENSIONS = frozenset(VIDEO_SUFFIXES)
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


@dataclass(frozen=True)
class VideoItem:
    """One labelled video (or still image) of a dataset.

    Attributes:
        path: The media file.
        label: 1 for fake, 0 for real (whatever the dataset's own convention is).
        group: Source video or identity; items of one group are never split apart.
        item_id: Unique, filesystem-safe id within the dataset (names cache entries).
        split: The dataset's official split ("train", "val", "test") when it defines one.
        method: Manipulation method for fakes ("" for real items or when unknown).
    """

    path: Path
    label: int
    group: str
    item_id: str
    split: str | None = None
    method: str = ""

    @property
    def is_image(self) -> bool:
        """Whether the item is a still image rather than a video."""
        return self.path.suffix.lower() in IMAGE_EXTENSIONS


def safe_id(text: str) -> str:
    """``text`` made filesystem-safe, for :attr:`VideoItem.item_id` (``"item"`` if it empties)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "item"


def media_files(folder: Path, extensions: Iterable[str]) -> list[Path]:
    """The files directly in ``folder`` whose lower-cased suffix is in ``extensions``, sorted."""
    allowed = frozenset(extensions)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in allowed)


def read_json(path: Path) -> object:
    """The parsed content of a dataset's JSON file.

    Raises:
        DatasetError: The file cannot be read or is not valid JSON.
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}; check that it is valid JSON") from exc
