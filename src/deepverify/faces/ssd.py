"""OpenCV's res10 SSD face detector (ResNet-10 backbone, 300x300 input, TensorFlow graph).

Importing this module loads no OpenCV (the registry reads the class's facts for ``--help``);
loading the network does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Self

import numpy as np

from deepverify.errors import DetectorError
from deepverify.faces.base import (
    Detection,
    RegisteredDetector,
    check_image,
    clip_box,
    non_max_suppression,
)
from deepverify.faces.weights import WeightFile

if TYPE_CHECKING:
    from deepverify.imaging import Downscaled

INPUT_SIZE = 300
MEAN_BGR = (104.0, 117.0, 123.0)
NMS_IOU = 0.4
MIN_INSIDE = 0.75
"""Least fraction of a raw box's area inside the frame. The uint8 res10 model emits confident
phantom boxes hanging off the bottom-right corner of close-up frames (seen on most real clips in
../shared at 0.8-1.0 score, 46-65% inside); real faces are rarely cut by more than a quarter."""


class OpenCVSSDDetector(RegisteredDetector):
    """The res10 SSD read with ``cv2.dnn.readNetFromTensorflow``.

    The whole frame is resized to 300x300 (the net's training input); its outputs are
    normalised coordinates, mapped back to the full frame.
    """

    name = "opencv-ssd"
    weights: ClassVar[Mapping[str, WeightFile]] = {
        "model": WeightFile(
            "opencv_face_detector_uint8.pb",
            "https://raw.githubusercontent.com/opencv/opencv_3rdparty/"
            "8033c2bc31b3256f0d461c919ecc01c2428ca03b/opencv_face_detector_uint8.pb",
            "5c71d752ef2cbf2f457ac82fdd580fcb2522fd04c5efdaed18eb6d9e2843fbed",
        ),
        "config": WeightFile(
            "opencv_face_detector.pbtxt",
            "https://raw.githubusercontent.com/opencv/opencv/4.10.0/"
            "samples/dnn/face_detector/opencv_face_detector.pbtxt",
            "5397808362fc6fb7c4044484848e297b22449d913a267fa7f8bd9d86dce29144",
        ),
    }
    default_min_confidence: ClassVar[float] = 0.5
    verifier: ClassVar[str] = "yunet"

    @classmethod
    def from_files(cls, files: Mapping[str, Path], *, min_confidence: float) -> Self:
        """The network from its frozen graph (``model``) and text description (``config``)."""
        return cls(files["model"], files["config"], min_confidence=min_confidence)

    def __init__(self, model: Path, config: Path, *, min_confidence: float) -> None:
        """Load the network.

        Args:
            model: The frozen graph ``opencv_face_detector_uint8.pb``.
            config: Its text description ``opencv_face_detector.pbtxt``.
            min_confidence: Detections scoring below this are dropped.
        """
        import cv2

        try:
            self._net = cv2.dnn.readNetFromTensorflow(str(model), str(config))
        except cv2.error as exc:
            raise DetectorError(f"cannot load the SSD face detector from {model}: {exc}") from None
        self.min_confidence = min_confidence

    def detect(self, image: np.ndarray, *, small: Downscaled | None = None) -> list[Detection]:
        """Faces in an RGB ``uint8`` image, best first, in its pixel coordinates.

        ``small`` is ignored: the 300x300 squeeze is always made from the full frame (shrinking
        a shrunk copy would give other pixels, so other boxes than the model was trained on).
        """
        import cv2

        check_image(image)
        height, width = image.shape[:2]
        squeezed = cv2.resize(image, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
        # swapRB turns the RGB input into the BGR order the network was trained on.
        blob = cv2.dnn.blobFromImage(squeezed, 1.0, (INPUT_SIZE, INPUT_SIZE), MEAN_BGR, swapRB=True)
        self._net.setInput(blob)
        rows = self._net.forward().reshape(-1, 7)  # [image_id, label, score, x1, y1, x2, y2]
        found = []
        for score, x1, y1, x2, y2 in rows[rows[:, 2] >= self.min_confidence, 2:7]:
            area = (x2 - x1) * (y2 - y1)
            inside = (min(x2, 1) - max(x1, 0)) * (min(y2, 1) - max(y1, 0))
            if area <= 0 or min(x2, 1) <= max(x1, 0) or inside < MIN_INSIDE * area:
                continue
            box = clip_box((x1 * width, y1 * height, x2 * width, y2 * height), width, height)
            if box[2] - box[0] >= 1 and box[3] - box[1] >= 1:
                found.append(Detection(box=box, score=float(score)))
        return non_max_suppression(found, NMS_IOU)
