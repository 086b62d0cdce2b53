"""Geometry types shared by every stage and by the report schema.

Dependency-free on purpose: the report (read by the service) and the detectors (OpenCV) both
import it, and neither should pull in the other's stack to name a box.
"""

from __future__ import annotations

Box = tuple[float, float, float, float]
"""``(x1, y1, x2, y2)`` in pixels, x to the right and y down; ``x2 > x1`` and ``y2 > y1``."""


def area(box: Box) -> float:
    """The area of an ``(x1, y1, x2, y2)`` box."""
    return (box[2] - box[0]) * (box[3] - box[1])


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes (0 when either is empty)."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0
