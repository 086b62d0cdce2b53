"""The pipeline's stage names and progress callback type.

Kept apart from :mod:`deepverify.pipeline` (which pulls in torch and OpenCV) so that the API,
the job bookkeeping and the client generator can know the stages without loading the model code.
"""

from __future__ import annotations

from collections.abc import Callable

DECODE = "decode"
"""Frames decoded (overlaps :data:`FACES`: each frame is searched for faces as it comes)."""
FACES = "faces"
"""Faces detected and cut out."""
MODEL = "model"
"""The network's time on the crops and the tracks."""
HEATMAPS = "heatmaps"
"""Heatmaps of the suspicious regions."""
REPORT = "report"
"""The report assembled and written."""

STAGES = (DECODE, FACES, MODEL, HEATMAPS, REPORT)
"""The stages :func:`deepverify.pipeline.analyze_video` reports, in order."""

ProgressCallback = Callable[[str, float], None]
"""Called with a stage name (one of :data:`STAGES`) and the fraction of it done, in [0, 1]."""
