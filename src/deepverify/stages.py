"""The pipeline's stage names and progress callback type.

Kept apart from :mod:`deepverify.pipeline` (which pulls in torch and OpenCV) so that the API,
the job bookkeeping and the client generator can know the stages without loading the model code.
"""

from __future__ import annotations

from collections.abc import Callable

STAGES = ("decode", "faces", "model", "heatmaps", "report")
"""The stages :func:`deepverify.pipeline.analyze_video` reports, in order."""

ProgressCallback = Callable[[str, float], None]
"""Called with a stage name (one of :data:`STAGES`) and the fraction of it done, in [0, 1]."""
