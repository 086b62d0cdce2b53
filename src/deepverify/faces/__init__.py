"""Face detection behind a small registry.

``opencv-ssd`` (the res10 SSD on OpenCV DNN; the default where a model card names no detector)
and ``yunet`` (OpenCV Zoo's YuNet, its graph on ONNX Runtime, decoded as ``cv2.FaceDetectorYN``
does; what the packaged model's crops came from).
"""

from deepverify.defaults import DEFAULT_DETECTOR
from deepverify.faces.base import Detection, FaceDetector
from deepverify.faces.registry import available_detectors, create_detector
from deepverify.faces.weights import resolve_weights

__all__ = [
    "DEFAULT_DETECTOR",
    "Detection",
    "FaceDetector",
    "available_detectors",
    "create_detector",
    "resolve_weights",
]
