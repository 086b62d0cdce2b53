"""The face detector registry: name -> the detector class, which states its own facts.

Each class (:class:`~deepverify.faces.base.RegisteredDetector`) carries its name, pinned weight
files, default threshold and rescue verifier; adding a detector is its own file plus one entry in
:data:`_CLASSES`. Reading the names imports no OpenCV (the CLI lists them in ``--help``); building
a detector does.
"""

from __future__ import annotations

import logging
from pathlib import Path

from deepverify.defaults import DEFAULT_DETECTOR
from deepverify.errors import DetectorError
from deepverify.faces.base import FaceDetector, RegisteredDetector
from deepverify.faces.ssd import OpenCVSSDDetector
from deepverify.faces.weights import resolve_files
from deepverify.faces.yunet import YuNetDetector

logger = logging.getLogger(__name__)

_CLASSES: tuple[type[RegisteredDetector], ...] = (OpenCVSSDDetector, YuNetDetector)
_REGISTRY: dict[str, type[RegisteredDetector]] = {cls.name: cls for cls in _CLASSES}


def available_detectors() -> list[str]:
    """Names accepted by :func:`create_detector`, sorted."""
    return sorted(_REGISTRY)


def detector_class(name: str) -> type[RegisteredDetector]:
    """The registered detector class called ``name``: the one check of a detector name.

    Raises:
        DetectorError: Unknown name; the message lists the valid ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DetectorError(
            f"unknown face detector {name!r}; choose one of: {', '.join(available_detectors())}"
        ) from None


def check_detector_name(name: str) -> str:
    """Return ``name`` if it is a registered detector (see :func:`detector_class`).

    Raises:
        DetectorError: Unknown name; the message lists the valid ones.
    """
    return detector_class(name).name


def resolve_weights(name: str, model_dir: Path | None = None) -> dict[str, Path]:
    """Find (or download) the verified weight files of detector ``name``.

    Args:
        name: A registered detector name.
        model_dir: Folder holding the files; when given, only it is searched (see
            :mod:`deepverify.faces.weights` for the order otherwise).

    Returns:
        Role (``model``, and ``config`` for opencv-ssd) -> path of the verified file.

    Raises:
        DetectorError: Unknown name, a file missing where it must be, a checksum mismatch, or a
            download that failed.
    """
    return resolve_files(detector_class(name).weights, model_dir)


def _load(name: str, model_dir: Path | None, min_confidence: float | None) -> FaceDetector:
    cls = detector_class(name)
    threshold = cls.default_min_confidence if min_confidence is None else min_confidence
    return cls.from_files(resolve_files(cls.weights, model_dir), min_confidence=threshold)


def create_detector(
    name: str = DEFAULT_DETECTOR,
    *,
    model_dir: Path | None = None,
    min_confidence: float | None = None,
    rescue: bool = True,
) -> FaceDetector:
    """Build a face detector by name.

    Args:
        name: One of :func:`available_detectors`.
        model_dir: Folder holding the weight files (see :func:`resolve_weights` for the order
            searched when it is ``None``).
        min_confidence: Score threshold in [0, 1]; the detector's own default when ``None``.
        rescue: Look again (contrast-equalised square tiles) at frames where it finds no face
            (:mod:`deepverify.faces.rescue`), confirmed by the detector's ``verifier``; ``scan``,
            the service and ``extract`` all do.

    Raises:
        DetectorError: Unknown name, bad threshold, or weights missing or corrupt.
    """
    cls = detector_class(name)
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise DetectorError(f"min_confidence must be in [0, 1], got {min_confidence}")
    detector = _load(name, model_dir, min_confidence)
    if not rescue:
        return detector
    try:
        verifier = _load(cls.verifier, model_dir, None)
    except DetectorError as exc:
        logger.warning(
            "second detection pass without a %s verifier (%s): it keeps only confident boxes",
            cls.verifier,
            exc,
        )
        verifier = None
    from deepverify.faces.rescue import RescuingDetector  # OpenCV: not for `--help`

    return RescuingDetector(detector, verifier)
