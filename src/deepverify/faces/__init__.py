"""Face detection behind a small registry.

``opencv-ssd`` (the res10 SSD on OpenCV DNN; the default where a model card names no detector)
and ``yunet`` (OpenCV Zoo's YuNet, its graph on ONNX Runtime, decoded as ``cv2.FaceDetectorYN``
does; what the packaged model's crops came from). Each is a
:class:`~deepverify.faces.base.RegisteredDetector` that states its own weights, threshold and
rescue verifier.
"""

from deepverify.defaults import DEFAULT_DETECTOR
from deepverify.faces.base import Detection, FaceDetector, RegisteredDetector
from deepverify.faces.registry import (
    available_detectors,
    check_detector_name,
    create_detector,
    detector_class,
    resolve_weights,
)

__all__ = [
    "DEFAULT_DETECTOR",
    "Detection",
    "FaceDetector",
    "RegisteredDetector",
    "available_detectors",
    "check_detector_name",
    "create_detector",
    "detector_class",
    "resolve_weights",
]
