"""Geometry types shared by every stage and by the report schema.

Dependency-free on purpose: the report (read by the service) and the detectors (OpenCV) both
import it, and neither should pull in the other's stack to name a box.
"""

from __future__ import annotations

Box = tuple[float, float, float, float]
"""``(x1, y1, x2, y2)`` in pixels, x to the right and y down; ``x2 > x1`` and ``y2 > y1``."""
