"""68-point face landmarks (dlib) for self-blending masks shaped like the face.

YuNet gives five points (eyes, nose tip, mouth corners); a mask hull built from them has to
guess the jaw and the brows. dlib's 68-point shape predictor (the model iBUG 300-W trained, as
the SBI and Face X-ray papers use) outlines them, and its parts let a blend cover the whole face,
the inner face or only the mouth and jaw, the regions that face swaps, reenactment and lip-sync
methods replace. It runs once per cached crop at extraction time (``deepverify extract
--landmarks dlib68``), never at inference.

The model file comes from the ``face-recognition-models`` package (training extra) or from
``$DEEPVERIFY_DLIB_LANDMARKS``. Only its location is looked up: that package's own
``__init__`` needs ``pkg_resources``, which current setuptools no longer ships.

:func:`attach_landmarks` gives one detector's boxes another's landmarks (``extract --landmarks
yunet`` with the SSD's boxes).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from deepverify.errors import DatasetError
from deepverify.faces import Detection

DLIB68 = "dlib68"
"""The name ``extract --landmarks`` takes for this shape predictor."""
ENV_MODEL = "DEEPVERIFY_DLIB_LANDMARKS"
MODEL_FILE = "shape_predictor_68_face_landmarks.dat"
NUM_POINTS = 68

# Index ranges of the 68-point (iBUG 300-W) layout.
JAW = range(0, 17)
BROWS = range(17, 27)
NOSE = range(27, 36)
EYES = range(36, 48)
MOUTH = range(48, 68)


def model_path() -> Path:
    """The 68-point shape predictor file: ``$DEEPVERIFY_DLIB_LANDMARKS`` or the package's.

    Raises:
        DatasetError: Neither is there (install the training extra).
    """
    env = os.environ.get(ENV_MODEL)
    if env:
        path = Path(env)
    else:
        spec = importlib.util.find_spec("face_recognition_models")
        folders = list(spec.submodule_search_locations or []) if spec else []
        path = Path(folders[0]) / "models" / MODEL_FILE if folders else Path(MODEL_FILE)
    if not path.is_file():
        raise DatasetError(
            f"dlib's 68-point landmark model is not at {path}: install the training extra "
            f"(face-recognition-models) or set {ENV_MODEL}"
        )
    return path


class ShapePredictor:
    """dlib's 68-point shape predictor: landmarks inside a face box.

    Raises:
        DatasetError: dlib or its model file is missing.
    """

    def __init__(self, path: Path | None = None) -> None:
        try:
            import dlib
        except ImportError:
            raise DatasetError(
                "--landmarks dlib68 needs dlib: install the training extra (dlib-bin)"
            ) from None
        self._dlib: Any = dlib
        self._predict: Any = dlib.shape_predictor(str(path or model_path()))

    def points(self, image: np.ndarray, box: Sequence[float]) -> tuple[tuple[float, float], ...]:
        """The 68 ``(x, y)`` points of the face in ``box`` of an RGB uint8 ``image``."""
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        shape = self._predict(np.ascontiguousarray(image), self._dlib.rectangle(x1, y1, x2, y2))
        return tuple((float(p.x), float(p.y)) for p in shape.parts())

    def annotate(self, image: np.ndarray, dets: list[Detection]) -> list[Detection]:
        """``dets`` with their landmarks replaced by the 68 points of each box."""
        return [replace(det, landmarks=self.points(image, det.box)) for det in dets]


def region_points(landmarks: Sequence[tuple[float, float]], region: str) -> np.ndarray:
    """The points of one blend region of a 68-point face, float32 (N, 2).

    Regions: ``face`` (jaw and brows: everything a swap replaces), ``inner`` (brows, eyes,
    nose and mouth, the jaw line kept), ``lower`` (the lower jaw, nose and mouth: what
    reenactment and lip-sync change).

    Raises:
        ValueError: Not 68 points, or an unknown region.
    """
    pts = np.asarray(landmarks, dtype=np.float32)
    if pts.shape != (NUM_POINTS, 2):
        raise ValueError(f"expected {NUM_POINTS} landmarks, got shape {pts.shape}")
    if region == "face":
        return pts
    if region == "inner":
        return pts[[*BROWS, *NOSE, *EYES, *MOUTH]]
    if region == "lower":
        return pts[[*range(2, 15), *range(29, 36), *MOUTH]]
    raise ValueError(f"unknown blend region {region!r}; valid: {', '.join(REGIONS)}")


REGIONS = ("face", "inner", "lower")


def attach_landmarks(dets: list[Detection], extra: list[Detection]) -> list[Detection]:
    """Give each box of ``dets`` the landmarks of the ``extra`` face nearest its centre.

    Only faces whose landmarks' centre lies inside the box count; a box with landmarks keeps them.
    ``deepverify extract --landmarks yunet`` uses it to add YuNet's five points to another
    detector's boxes.
    """
    out = []
    for det in dets:
        x1, y1, x2, y2 = det.box
        best, best_dist = None, float("inf")
        for other in extra:
            if not other.landmarks:
                continue
            cx, cy = np.mean(np.asarray(other.landmarks), axis=0)
            if x1 <= cx <= x2 and y1 <= cy <= y2:
                dist = float(np.hypot(cx - (x1 + x2) / 2, cy - (y1 + y2) / 2))
                if dist < best_dist:
                    best, best_dist = other.landmarks, dist
        out.append(det if det.landmarks or best is None else replace(det, landmarks=best))
    return out
