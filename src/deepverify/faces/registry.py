"""The face detector registry: name -> how to build it from its weight files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deepverify.defaults import DEFAULT_DETECTOR
from deepverify.errors import DetectorError
from deepverify.faces import ssd, yunet
from deepverify.faces.base import FaceDetector
from deepverify.faces.weights import resolve_weights


@dataclass(frozen=True)
class _Entry:
    build: Callable[[dict[str, Path], float], FaceDetector]
    min_confidence: float


def _build_ssd(files: dict[str, Path], min_confidence: float) -> FaceDetector:
    return ssd.OpenCVSSDDetector(files["model"], files["config"], min_confidence=min_confidence)


def _build_yunet(files: dict[str, Path], min_confidence: float) -> FaceDetector:
    return yunet.YuNetDetector(files["model"], min_confidence=min_confidence)


_REGISTRY: dict[str, _Entry] = {
    "opencv-ssd": _Entry(_build_ssd, ssd.DEFAULT_MIN_CONFIDENCE),
    "yunet": _Entry(_build_yunet, yunet.DEFAULT_MIN_CONFIDENCE),
}


def available_detectors() -> list[str]:
    """Names accepted by :func:`create_detector`, sorted."""
    return sorted(_REGISTRY)


def create_detector(
    name: str = DEFAULT_DETECTOR,
    *,
    model_dir: Path | None = None,
    min_confidence: float | None = None,
) -> FaceDetector:
    """Build a face detector by name.

    Args:
        name: One of :func:`available_detectors`.
        model_dir: Folder holding the weight files (see :func:`resolve_weights` for the order
            searched when it is ``None``).
        min_confidence: Score threshold in [0, 1]; the detector's own default when ``None``.

    Raises:
        DetectorError: Unknown name, bad threshold, or weights missing or corrupt.
    """
    entry = _REGISTRY.get(name)
    if entry is None:
        raise DetectorError(
            f"unknown face detector {name!r}; choose one of: {', '.join(available_detectors())}"
        )
    threshold = entry.min_confidence if min_confidence is None else min_confidence
    if not 0.0 <= threshold <= 1.0:
        raise DetectorError(f"min_confidence must be in [0, 1], got {threshold}")
    return entry.build(resolve_weights(name, model_dir), threshold)
