"""What every face detector returns, and the image helpers they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, Self

import numpy as np

from deepverify.faces.weights import WeightFile
from deepverify.geometry import Box

if TYPE_CHECKING:  # for annotations only
    from deepverify.imaging import Downscaled


@dataclass(frozen=True)
class Detection:
    """One face found in a frame.

    Attributes:
        box: ``(x1, y1, x2, y2)`` in pixels of the full-resolution frame, clipped to it.
        score: Detector confidence in [0, 1].
        landmarks: Five ``(x, y)`` points (right eye, left eye, nose tip, right and left mouth
            corners, as the detector names them) when the detector gives them, else ``None``;
            68 points (:mod:`deepverify.training.landmarks`) on boxes ``extract`` annotated.
        rescued: Found by the second pass (:mod:`deepverify.faces.rescue`) in a frame where the
            first found nothing; kept only when tracking confirms it.
    """

    box: Box
    score: float
    landmarks: tuple[tuple[float, float], ...] | None = None
    rescued: bool = False

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.box[3] - self.box[1]


class FaceDetector(Protocol):
    """Finds faces in one RGB ``uint8`` image ``(H, W, 3)``."""

    name: str

    def detect(self, image: np.ndarray, *, small: Downscaled | None = None) -> list[Detection]:
        """Faces in ``image``, best first, boxes in its pixel coordinates.

        ``small`` is a copy of ``image`` the caller has already shrunk; a detector that works on
        a copy of that size uses it instead of making its own, and any other ignores it.
        """
        ...


class RegisteredDetector(ABC):
    """A detector the registry builds by name; each subclass states its own facts once.

    Attributes:
        name: Registry name (``--detector``, the model card's ``detector``).
        weights: Role (``model``, ``config``...) -> the pinned file it loads.
        default_min_confidence: Score threshold used when none is given.
        verifier: Name of the detector, of another architecture, that confirms the faces its
            second pass finds (:mod:`deepverify.faces.rescue`).
    """

    name: str
    weights: ClassVar[Mapping[str, WeightFile]]
    default_min_confidence: ClassVar[float]
    verifier: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_files(cls, files: Mapping[str, Path], *, min_confidence: float) -> Self:
        """Load the detector from its verified weight files (keys of :attr:`weights`)."""

    @abstractmethod
    def detect(self, image: np.ndarray, *, small: Downscaled | None = None) -> list[Detection]:
        """Faces in ``image``, best first (see :meth:`FaceDetector.detect`)."""


def check_image(image: np.ndarray) -> None:
    """Refuse what is not an RGB ``uint8`` ``(H, W, 3)`` array (a programming error)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 (H, W, 3) image, got {image.dtype} {image.shape}")


def clip_box(box: Box, width: int, height: int) -> Box:
    """Clip ``box`` to a ``width`` x ``height`` frame."""
    x1, y1, x2, y2 = box
    return (
        float(min(max(x1, 0.0), width)),
        float(min(max(y1, 0.0), height)),
        float(min(max(x2, 0.0), width)),
        float(min(max(y2, 0.0), height)),
    )


def non_max_suppression(detections: list[Detection], iou_threshold: float) -> list[Detection]:
    """Drop detections that overlap a better one by more than ``iou_threshold``; best first."""
    if not detections:
        return []
    boxes = [[d.box[0], d.box[1], d.box[2] - d.box[0], d.box[3] - d.box[1]] for d in detections]
    scores = [d.score for d in detections]
    import cv2

    keep = cv2.dnn.NMSBoxes(boxes, scores, 0.0, iou_threshold)
    kept = [detections[int(i)] for i in np.asarray(keep).reshape(-1)]
    return sorted(kept, key=lambda d: d.score, reverse=True)
