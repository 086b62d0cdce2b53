"""The face detector registry: name -> how to build it from its weight files.

Reading the names imports no OpenCV (the CLI lists them in ``--help``); building a detector does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from deepverify.defaults import DEFAULT_DETECTOR
from deepverify.errors import DetectorError
from deepverify.faces.base import FaceDetector
from deepverify.faces.weights import resolve_weights

logger = logging.getLogger(__name__)

# Builders take the weight files and a threshold (None: the detector's own default).
_Builder = Callable[[dict[str, Path], "float | None"], FaceDetector]


def _build_ssd(files: dict[str, Path], min_confidence: float | None) -> FaceDetector:
    from deepverify.faces import ssd

    threshold = ssd.DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence
    return ssd.OpenCVSSDDetector(files["model"], files["config"], min_confidence=threshold)


def _build_yunet(files: dict[str, Path], min_confidence: float | None) -> FaceDetector:
    from deepverify.faces import yunet

    threshold = yunet.DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence
    return yunet.YuNetDetector(files["model"], min_confidence=threshold)


_REGISTRY: dict[str, _Builder] = {"opencv-ssd": _build_ssd, "yunet": _build_yunet}


VERIFIERS = {"opencv-ssd": "yunet", "yunet": "opencv-ssd"}
"""The detector of another architecture that confirms each second-pass face."""


def available_detectors() -> list[str]:
    """Names accepted by :func:`create_detector`, sorted."""
    return sorted(_REGISTRY)


def check_detector_name(name: str) -> str:
    """Return ``name`` if it is a registered detector.

    Raises:
        DetectorError: Unknown name; the message lists the valid ones.
    """
    if name not in _REGISTRY:
        raise DetectorError(
            f"unknown face detector {name!r}; choose one of: {', '.join(available_detectors())}"
        )
    return name


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
            (:mod:`deepverify.faces.rescue`); ``scan``, the service and ``extract`` all do.

    Raises:
        DetectorError: Unknown name, bad threshold, or weights missing or corrupt.
    """
    build = _REGISTRY[check_detector_name(name)]
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise DetectorError(f"min_confidence must be in [0, 1], got {min_confidence}")
    detector = build(resolve_weights(name, model_dir), min_confidence)
    if not rescue:
        return detector
    other = VERIFIERS[name]
    try:
        verifier = _REGISTRY[other](resolve_weights(other, model_dir), None)
    except DetectorError as exc:
        logger.warning(
            "second detection pass without a %s verifier (%s): it keeps only confident boxes",
            other,
            exc,
        )
        verifier = None
    from deepverify.faces.rescue import RescuingDetector  # OpenCV: not for `--help`

    return RescuingDetector(detector, verifier)
