"""YuNet (OpenCV Zoo): boxes plus five landmarks, its network run on ONNX Runtime.

``cv2.FaceDetectorYN`` runs YuNet on OpenCV's DNN module. On the 2-core machines this project
targets, the same ONNX graph runs 2.2x faster on ONNX Runtime (15 ms against 33 ms a 640x480
frame on one thread), and face detection was half of a scan's CPU time. So the graph runs on
ONNX Runtime, and its outputs are decoded as ``cv2.FaceDetectorYN`` decodes them (OpenCV's
``face_detect.cpp``): the frame is padded to a multiple of 32 and fed as BGR floats in
[0, 255]; each anchor of the stride-8, 16 and 32 grids gives ``sqrt(cls * obj)`` as score, a box
centred at ``(col + dx, row + dy) * stride`` of side ``exp(dw | dh) * stride``, and five points
``(col + px, row + py) * stride``; OpenCV's ``NMSBoxes`` (on integer boxes, as there) keeps the
best of overlapping boxes. A test holds it to ``cv2.FaceDetectorYN`` on real frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Self

import numpy as np

from deepverify.errors import DetectorError
from deepverify.faces.base import Detection, RegisteredDetector, check_image, clip_box
from deepverify.faces.weights import WeightFile
from deepverify.imaging import PREVIEW_MAX_SIDE, Downscaled, downscale
from deepverify.onnx_session import SessionError, cpu_session

if TYPE_CHECKING:
    import onnxruntime as ort

MAX_SIDE = PREVIEW_MAX_SIDE  # so the scan's preview is its input, not a second downscale
NMS_IOU = 0.3
TOP_K = 500
STRIDES = (8, 16, 32)
PAD = 32
"""The network's input sides must be multiples of this (its coarsest stride)."""
OUTPUTS = tuple(f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in STRIDES)


def _session(model: Path) -> ort.InferenceSession:
    """An ONNX Runtime session for YuNet's graph; a clear error when it is not one."""
    if not model.is_file():
        raise DetectorError(f"cannot load the YuNet face detector: {model} not found")
    try:
        # One thread: decoding and the detector network run beside it on the other core.
        session = cpu_session(model, threads=1)
    except SessionError as exc:
        raise DetectorError(f"cannot load the YuNet face detector from {model}: {exc}") from None
    outputs = {o.name for o in session.get_outputs()}
    if not set(OUTPUTS) <= outputs:
        raise DetectorError(
            f"{model} is not a YuNet face detector (outputs {sorted(outputs)}, expected "
            f"{list(OUTPUTS)})"
        )
    return session


class YuNetDetector(RegisteredDetector):
    """YuNet on a copy downscaled to at most 640 px on its longest side.

    Boxes and landmarks are scaled back to the full-resolution frame. Safe to share between
    threads (an ONNX Runtime session runs concurrently).
    """

    name = "yunet"
    # The model is stored with Git LFS: raw.githubusercontent.com would serve the pointer file.
    weights: ClassVar[Mapping[str, WeightFile]] = {
        "model": WeightFile(
            "face_detection_yunet.onnx",
            "https://media.githubusercontent.com/media/opencv/opencv_zoo/"
            "47534e27c9851bb1128ccc0102f1145e27f23f98/models/face_detection_yunet/"
            "face_detection_yunet_2026may.onnx",
            "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0",
        )
    }
    default_min_confidence: ClassVar[float] = 0.7
    verifier: ClassVar[str] = "opencv-ssd"

    @classmethod
    def from_files(cls, files: Mapping[str, Path], *, min_confidence: float) -> Self:
        """The network from its ONNX graph (``model``)."""
        return cls(files["model"], min_confidence=min_confidence)

    def __init__(self, model: Path, *, min_confidence: float) -> None:
        """Load the network.

        Args:
            model: The ONNX file.
            min_confidence: Detections scoring below this are dropped.
        """
        self._session = _session(model)
        self._input = self._session.get_inputs()[0].name
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
        found = []
        for row in self.raw(shrunk):  # x, y, w, h, 5 x (x, y) landmarks, score
            x, y, w, h = (float(v) / scale for v in row[:4])
            box = clip_box((x, y, x + w, y + h), width, height)
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue
            points = tuple(
                (float(row[4 + 2 * i]) / scale, float(row[5 + 2 * i]) / scale) for i in range(5)
            )
            found.append(Detection(box=box, score=float(row[14]), landmarks=points))
        return sorted(found, key=lambda d: d.score, reverse=True)

    def raw(self, rgb: np.ndarray) -> np.ndarray:
        """``cv2.FaceDetectorYN.detect``'s rows for an RGB image at the size it is given.

        Returns:
            ``(N, 15)`` float32: ``x, y, w, h``, five ``(x, y)`` points, score; best first.
        """
        height, width = rgb.shape[:2]
        pad_h, pad_w = -(-height // PAD) * PAD, -(-width // PAD) * PAD
        blob = np.zeros((1, 3, pad_h, pad_w), np.float32)
        blob[0, :, :height, :width] = rgb[..., ::-1].transpose(2, 0, 1)  # BGR, as OpenCV feeds it
        outputs = dict(
            zip(OUTPUTS, self._session.run(list(OUTPUTS), {self._input: blob}), strict=True)
        )
        rows = [self._decode(outputs, stride, pad_w // stride) for stride in STRIDES]
        faces = np.concatenate(rows)
        faces = faces[faces[:, 14] >= self.min_confidence]
        if len(faces) == 0:
            return faces
        import cv2

        boxes = faces[:, :4].astype(np.int32).tolist()  # integer boxes, as OpenCV's NMS sees them
        keep = cv2.dnn.NMSBoxes(
            boxes, faces[:, 14].tolist(), self.min_confidence, NMS_IOU, top_k=TOP_K
        )
        return faces[np.asarray(keep, dtype=np.int64).reshape(-1)]

    @staticmethod
    def _decode(outputs: dict[str, np.ndarray], stride: int, cols: int) -> np.ndarray:
        """One stride's anchors as ``(N, 15)`` face rows."""
        cls = np.clip(outputs[f"cls_{stride}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(outputs[f"obj_{stride}"].reshape(-1), 0.0, 1.0)
        bbox = outputs[f"bbox_{stride}"].reshape(-1, 4)
        kps = outputs[f"kps_{stride}"].reshape(-1, 5, 2)
        index = np.arange(len(cls))
        grid = np.stack([index % cols, index // cols], axis=1).astype(np.float32)
        centre = (grid + bbox[:, :2]) * stride
        size = np.exp(bbox[:, 2:]) * stride
        points = (grid[:, None, :] + kps) * stride
        score = np.sqrt(cls * obj)
        return np.concatenate(
            [centre - size / 2, size, points.reshape(-1, 10), score[:, None]], axis=1
        ).astype(np.float32)
