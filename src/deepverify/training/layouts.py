"""The published datasets' layouts: DFDC, FaceForensics++ and Celeb-DF, and the options they read.

Each loader turns a dataset folder in its published layout into labelled items
(:class:`~deepverify.training.items.VideoItem`), grouping each fake with the source video or
identity it was made from. The registry that picks one by name is
:data:`deepverify.training.datasets.FORMATS`.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from deepverify.errors import DatasetError
from deepverify.training.items import VIDEO_EXTENSIONS, VideoItem, media_files, read_json, safe_id
from deepverify.training.manifest import ManifestReport

logger = logging.getLogger(__name__)

FFPP_METHODS = (
    "Deepfakes",
    "Face2Face",
    "FaceSwap",
    "NeuralTextures",
    "FaceShifter",
    "DeepFakeDetection",
)
FFPP_COMPRESSIONS = ("raw", "c23", "c40")


@dataclass(frozen=True)
class DatasetOptions:
    """Format-specific choices; formats ignore the options that do not concern them.

    Attributes:
        methods: FaceForensics++ manipulation methods to include (None: every one present).
        compression: FaceForensics++ compression level: "raw", "c23" or "c40".
        manifest: Folder format: the manifest giving labels, groups and manipulations
            (default: ``manifest.json`` in the folder or its parent, when there is one).
        report: Folder format: collects the manifest rows that were skipped, and why.
    """

    methods: tuple[str, ...] | None = None
    compression: str = "c23"
    manifest: Path | None = None
    report: ManifestReport | None = None


# ----------------------------------------------------------------------------------------- DFDC
def _dfdc_label(value: object, where: str) -> int:
    if value == "FAKE":
        return 1
    if value == "REAL":
        return 0
    raise DatasetError(f"{where}: label must be REAL or FAKE, got {value!r}")


def _dfdc_train_parts(root: Path) -> list[VideoItem]:
    metadata_files = sorted(root.glob("dfdc_train_part_*/metadata.json"))
    if (root / "metadata.json").is_file():
        metadata_files.insert(0, root / "metadata.json")
    items: list[VideoItem] = []
    for meta_path in metadata_files:
        meta = read_json(meta_path)
        if not isinstance(meta, dict):
            raise DatasetError(f"{meta_path} must map video names to entries")
        for name, entry in sorted(meta.items()):
            if not isinstance(entry, dict):
                raise DatasetError(f"{meta_path}: entry for {name} must be an object")
            label = _dfdc_label(entry.get("label"), f"{meta_path} [{name}]")
            original = entry.get("original")
            if label == 1 and not original:
                logger.warning("%s: fake %s has no original; grouped on its own", meta_path, name)
            group = Path(str(original)).stem if label == 1 and original else Path(name).stem
            items.append(
                VideoItem(
                    path=meta_path.parent / name,
                    label=label,
                    group=group,
                    item_id=safe_id(Path(name).stem),
                )
            )
    return items


def _dfdc_test_labels(root: Path) -> list[VideoItem]:
    items: list[VideoItem] = []
    for labels_path in sorted(root.glob("**/labels.csv")):
        folder = labels_path.parent
        try:
            with labels_path.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DatasetError(f"cannot read {labels_path}: {exc}") from exc
        for number, row in enumerate(rows, start=2):
            name, label = (row.get("filename") or "").strip(), (row.get("label") or "").strip()
            if not name or label not in {"0", "1", "0.0", "1.0"}:
                raise DatasetError(
                    f"{labels_path}:{number}: expected columns filename,label with label 0 or 1"
                )
            path = folder / name
            if not path.exists() and (folder / "test_videos" / name).exists():
                path = folder / "test_videos" / name
            items.append(
                VideoItem(
                    path=path,
                    label=int(float(label)),
                    group=f"test:{Path(name).stem}",
                    item_id=safe_id(f"test_{Path(name).stem}"),
                    split="test",
                )
            )
    return items


def load_dfdc(root: Path, options: DatasetOptions) -> list[VideoItem]:
    """DFDC: ``dfdc_train_part_*/metadata.json`` and/or the test set's ``labels.csv``.

    Fakes are grouped with their ``original``; a real video is its own group.
    """
    items = _dfdc_train_parts(root) + _dfdc_test_labels(root)
    if not items:
        raise DatasetError(
            f"{root} is not a DFDC folder: no dfdc_train_part_*/metadata.json and no labels.csv"
        )
    return items


# -------------------------------------------------------------------------------------- FF++
class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


_FFPP_YT_FAKE = re.compile(r"^(\d+)_(\d+)$")
_FFPP_DFD_REAL = re.compile(r"^(\d+)__")
_FFPP_DFD_FAKE = re.compile(r"^(\d+)_(\d+)__")


def _ffpp_official_splits(root: Path) -> dict[str, str]:
    """Map YouTube ids to the official split, from ``splits/{train,val,test}.json`` if present."""
    split_of: dict[str, str] = {}
    for folder in (root / "splits", root):
        for split in ("train", "val", "test"):
            path = folder / f"{split}.json"
            if not path.is_file():
                continue
            pairs = read_json(path)
            if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 for p in pairs
            ):
                raise DatasetError(f'{path} must be a JSON list of id pairs like ["000", "003"]')
            for pair in pairs:
                for vid in pair:
                    split_of[f"yt:{vid}"] = split
        if split_of:
            break
    return split_of


def _ffpp_ids(stem: str, *, actors: bool, fake: bool) -> tuple[str, ...]:
    if not actors:
        match = _FFPP_YT_FAKE.match(stem) if fake else re.match(r"^(\d+)$", stem)
        return tuple(f"yt:{g}" for g in match.groups()) if match else ()
    match = (_FFPP_DFD_FAKE if fake else _FFPP_DFD_REAL).match(stem)
    return tuple(f"actor:{g}" for g in match.groups()) if match else ()


_FFPPFile = tuple[Path, int, str, tuple[str, ...]]  # path, label, method, linked ids


def _check_ffpp_options(root: Path, options: DatasetOptions) -> None:
    if options.compression not in FFPP_COMPRESSIONS:
        raise DatasetError(
            f"unknown compression {options.compression!r}; valid: {', '.join(FFPP_COMPRESSIONS)}"
        )
    if options.methods is not None:
        unknown = sorted(set(options.methods) - set(FFPP_METHODS))
        if unknown:
            raise DatasetError(
                f"unknown FF++ method(s) {', '.join(unknown)}; valid: {', '.join(FFPP_METHODS)}"
            )
    if not (root / "original_sequences").is_dir():
        raise DatasetError(
            f"{root} is not a FaceForensics++ folder: original_sequences/ is missing"
        )


def _ffpp_originals(root: Path, comp: str) -> list[_FFPPFile]:
    raw: list[_FFPPFile] = []
    for source in ("youtube", "actors"):
        folder = root / "original_sequences" / source / comp / "videos"
        if folder.is_dir():
            for path in media_files(folder, VIDEO_EXTENSIONS):
                ids = _ffpp_ids(path.stem, actors=source == "actors", fake=False)
                raw.append((path, 0, "", ids or (f"file:{source}/{path.stem}",)))
    return raw


def _ffpp_fakes(root: Path, comp: str, methods: tuple[str, ...] | None) -> list[_FFPPFile]:
    raw: list[_FFPPFile] = []
    for method in methods if methods is not None else FFPP_METHODS:
        folder = root / "manipulated_sequences" / method / comp / "videos"
        if not folder.is_dir():
            if methods is not None:
                raise DatasetError(f"{folder} is missing; requested method {method} at {comp}")
            continue
        for path in media_files(folder, VIDEO_EXTENSIONS):
            ids = _ffpp_ids(path.stem, actors=method == "DeepFakeDetection", fake=True)
            raw.append((path, 1, method, ids or (f"file:{method}/{path.stem}",)))
    return raw


def load_ffpp(root: Path, options: DatasetOptions) -> list[VideoItem]:
    """FaceForensics++: ``original_sequences`` and ``manipulated_sequences`` at one compression.

    Groups are connected components of the ids a fake links (``A_B`` links A and B; the actors
    of DeepFakeDetection likewise), so a fake and both of its sources share one split.
    """
    comp = options.compression
    _check_ffpp_options(root, options)
    raw = _ffpp_originals(root, comp) + _ffpp_fakes(root, comp, options.methods)
    if not raw:
        raise DatasetError(f"no FF++ videos found under {root} at compression {comp}")
    components = _UnionFind()
    for *_, ids in raw:
        for other in ids[1:]:
            components.union(ids[0], other)
    official = _ffpp_official_splits(root)
    items = []
    for path, label, method, ids in raw:
        splits = {official[i] for i in ids if i in official}
        kind = method or "original"
        items.append(
            VideoItem(
                path=path,
                label=label,
                group=components.find(ids[0]),
                item_id=safe_id(f"{kind}_{path.stem}"),
                split=splits.pop() if len(splits) == 1 else None,
                method=method,
            )
        )
    return items


# ------------------------------------------------------------------------------------ Celeb-DF
_CELEB_REAL = re.compile(r"^(id\d+)_\d+$")
_CELEB_FAKE = re.compile(r"^(id\d+)_(id\d+)_\d+$")


def load_celebdf(root: Path, options: DatasetOptions) -> list[VideoItem]:
    """Celeb-DF v2: ``Celeb-real/``, ``Celeb-synthesis/``, ``YouTube-real/`` and the test list.

    In ``List_of_testing_videos.txt`` **1 means real** and 0 fake (the reverse of the usual
    convention); labels here are converted to 1 = fake. A synthesis ``idA_idB_N`` is made from
    the video ``idA_N``, so it is grouped with identity ``idA``.
    """
    folders = {"Celeb-real": 0, "Celeb-synthesis": 1, "YouTube-real": 0}
    if not any((root / name).is_dir() for name in folders):
        raise DatasetError(
            f"{root} is not a Celeb-DF folder: expected Celeb-real/, Celeb-synthesis/ "
            "and YouTube-real/"
        )
    test_list = root / "List_of_testing_videos.txt"
    test_labels: dict[str, int] = {}
    if test_list.is_file():
        for number, line in enumerate(test_list.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or parts[0] not in {"0", "1"}:
                raise DatasetError(f"{test_list}:{number}: expected '<1 real|0 fake> <path>'")
            test_labels[parts[1]] = 1 - int(parts[0])
    else:
        logger.warning("%s is missing; no official test split", test_list)
    items = []
    for name, label in folders.items():
        folder = root / name
        if not folder.is_dir():
            continue
        for path in media_files(folder, VIDEO_EXTENSIONS):
            rel = f"{name}/{path.name}"
            match = (_CELEB_FAKE if label else _CELEB_REAL).match(path.stem)
            group = match.group(1) if match else f"{name}:{path.stem}"
            if rel in test_labels and test_labels[rel] != label:
                raise DatasetError(f"{test_list} labels {rel} against its folder {name}/")
            items.append(
                VideoItem(
                    path=path,
                    label=label,
                    group=group,
                    item_id=safe_id(f"{name}_{path.stem}"),
                    split="test" if rel in test_labels else None,
                    method="Celeb-synthesis" if label else "",
                )
            )
    if not items:
        raise DatasetError(f"no Celeb-DF videos found under {root}")
    return items
