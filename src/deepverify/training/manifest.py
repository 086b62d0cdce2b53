"""Dataset manifests: the ``manifest.json`` that labels, groups and describes a folder's files.

The folder format (:func:`deepverify.training.datasets.load_folder`) reads one when it is present;
rows that cannot be used are collected in a :class:`ManifestReport` rather than stopping the run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from deepverify.training.items import read_json

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
_MANIFEST_LABELS = {"REAL": 0, "FAKE": 1}


@dataclass(frozen=True)
class ManifestRow:
    """What a manifest says about one file."""

    label: int
    group: str
    method: str
    dataset: str


@dataclass
class ManifestReport:
    """Rows of a manifest that could not be used, one message each (the run goes on)."""

    problems: list[str] = field(default_factory=list)

    def skip(self, message: str) -> None:
        """Report one skipped row or file (logged and kept for the summary)."""
        logger.warning("manifest: %s", message)
        self.problems.append(message)


def find_manifest(root: Path) -> Path | None:
    """The manifest describing ``root``.

    That is ``root/manifest.json``, else the parent's one if it lists files under ``root``
    (``data/manifest.json`` lists ``eval/real/x.mp4``).
    """
    own = root / MANIFEST_NAME
    if own.is_file():
        return own
    parent = root.parent / MANIFEST_NAME
    if parent.is_file() and f'"{root.name}/' in parent.read_text(encoding="utf-8"):
        return parent
    return None


def _manifest_rows(manifest: object) -> list[object]:
    if isinstance(manifest, list):
        return manifest
    if isinstance(manifest, dict):  # {"eval": [...], "real": [...]}
        return [row for rows in manifest.values() if isinstance(rows, list) for row in rows]
    return []


def read_manifest(path: Path, report: ManifestReport) -> dict[Path, ManifestRow]:
    """Resolved file path -> row, for every usable row of a manifest.

    A row's ``file`` is relative to the manifest's folder or to its parent. Rows without a file,
    rows whose file is missing, labels other than REAL/FAKE, and a file listed twice with
    different labels are reported and skipped. A group may hold both labels: a real video and
    the fakes made from it share one, which keeps them on one side of every split.
    """
    rows: dict[Path, ManifestRow] = {}
    conflicts: set[Path] = set()
    for number, raw in enumerate(_manifest_rows(read_json(path)), 1):
        if not isinstance(raw, dict) or not isinstance(raw.get("file"), str):
            report.skip(f"{path.name} row {number}: no 'file' field")
            continue
        rel = raw["file"]
        candidates = [path.parent / rel, path.parent.parent / rel]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            report.skip(f"{path.name} row {number}: {rel} does not exist")
            continue
        label = _MANIFEST_LABELS.get(str(raw.get("label", "")).upper())
        if label is None:
            report.skip(
                f"{path.name} row {number}: {rel} has label {raw.get('label')!r}, "
                "expected REAL or FAKE"
            )
            continue
        key = found.resolve()
        if key in rows and rows[key].label != label:
            report.skip(f"{path.name} row {number}: {rel} is listed again with another label")
            conflicts.add(key)
            continue
        rows[key] = ManifestRow(
            label=label,
            group=str(raw.get("group") or raw.get("pair_id") or Path(rel).stem),
            method="" if label == 0 else str(raw.get("manipulation") or "unknown"),
            dataset=str(raw.get("dataset") or ""),
        )
    for key in conflicts:
        del rows[key]
    return rows
