"""OpenCV's res10 SSD face detector (ResNet-10 backbone, 300x300 input, TensorFlow graph)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deepverify.errors import DetectorError
from deepverify.faces.base import Detection, check_image, clip_box, non_max_suppression
from deepverify.imaging import Downscaled

INPUT_SIZE = 300
MEAN_BGR = (104.0, 117.0, 123.0)
DEFAULT_MIN_CONFIDENCE = 0.5
NMS_IOU = 0.4
MIN_INSIDE = 0.75
"""Least fraction of a raw box's area inside the frame. The uint8 res10 model emits confident
phantom boxes hanging off the bottom-right corner of close-up frames (seen on most real clips in
../shared at 0.8-1.0 score, 46-65% inside); real faces are rarely cut by more than a quarter."""


class OpenCVSSDDetector:
    """The res10 SSD read with ``cv2.dnn.readNetFromTensorflow``.

    The whole frame is resized to 300x300 (the net's training input); its outputs are
    normalised coordinates, mapped back to the full frame.
    """

    name = "opencv-ssd"

    def __init__(self, model: Path, config: Path, *, min_confidence: float) -> None:
        """Load the network.

        Args:
            model: The frozen graph ``opencv_face_detector_uint8.pb``.
            config: Its text description ``opencv_face_detector.pbtxt``.
            min_confidence: Detections scoring below this are dropped.
        """
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
