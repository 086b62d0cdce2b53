"""Face detection (OpenCV DNN) behind a small registry: ``opencv-ssd`` (default) and ``yunet``."""

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
