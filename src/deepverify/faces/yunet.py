"""YuNet (OpenCV Zoo) through ``cv2.FaceDetectorYN``: boxes plus five landmarks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deepverify.errors import DetectorError
from deepverify.faces.base import Detection, check_image, clip_box
from deepverify.imaging import Downscaled, downscale

MAX_SIDE = 640
DEFAULT_MIN_CONFIDENCE = 0.7
NMS_IOU = 0.3
TOP_K = 500


class YuNetDetector:
    """YuNet on a copy downscaled to at most 640 px on its longest side.

    ``cv2.FaceDetectorYN`` applies NMS itself; boxes and landmarks are scaled back to the
    full-resolution frame.
    """

    name = "yunet"

    def __init__(self, model: Path, *, min_confidence: float) -> None:
        """Load the network.

        Args:
            model: The ONNX file.
            min_confidence: Detections scoring below this are dropped.
        """
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(model), "", (MAX_SIDE, MAX_SIDE), min_confidence, NMS_IOU, TOP_K
            )
        except cv2.error as exc:
            raise DetectorError(
                f"cannot load the YuNet face detector from {model}: {exc}"
            ) from None
        self.min_confidence = min_confidence

    def detect(self, image: np.ndarray, *, small: Downscaled | None = None) -> list[Detection]:
        """Faces in an RGB ``uint8`` image, best first, in its pixel coordinates.

        ``small``, when it was made with this detector's :data:`MAX_SIDE`, is the copy it runs
        on (the same pixels it would make itself).
        """
        check_image(image)
        height, width = image.shape[:2]
        if small is not None and small.max_side == MAX_SIDE:
            shrunk, scale = small.image, small.scale
        else:
            shrunk, scale = downscale(image, MAX_SIDE)
        bgr = cv2.cvtColor(shrunk, cv2.COLOR_RGB2BGR)
        self._net.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, faces = self._net.detect(bgr)
        if faces is None:
            return []
        found = []
        for row in faces:  # x, y, w, h, 5 x (x, y) landmarks, score
            x, y, w, h = (float(v) / scale for v in row[:4])
            box = clip_box((x, y, x + w, y + h), width, height)
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue
            points = tuple(
                (float(row[4 + 2 * i]) / scale, float(row[5 + 2 * i]) / scale) for i in range(5)
            )
            found.append(Detection(box=box, score=float(row[14]), landmarks=points))
        return sorted(found, key=lambda d: d.score, reverse=True)
