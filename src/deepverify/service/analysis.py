"""The real analyzer the workers run: the pipeline core with the configured model and detector.

One :class:`PipelineAnalyzer` per worker thread or process, each with its own inference session.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from deepverify.service.jobs import ProgressCallback
from deepverify.service.settings import Settings

logger = logging.getLogger(__name__)


class PipelineAnalyzer:
    """Calls :func:`deepverify.pipeline.analyze_video` with a model loaded once."""

    def __init__(self, settings: Settings) -> None:
        from deepverify.engine import load_engine
        from deepverify.faces import create_detector

        self.settings = settings
        self.model = load_engine(
            settings.model_path,
            engine=settings.engine,
            device=settings.device,
            threads=settings.torch_threads,
        )
        card = self.model.card
        detector = settings.detector or card.detector
        warning = card.detector_warning(detector)
        if warning:
            logger.warning("%s", warning)
        self.detector = create_detector(detector)
        logger.info(
            "model %s loaded for analysis (%s engine, %s detector)",
            card.model_id or "(unnamed)",
            self.model.name,
            detector,
        )

    def __call__(
        self,
        video_path: Path,
        *,
        out_dir: Path,
        progress: ProgressCallback,
        display_name: str | None = None,
    ) -> dict[str, Any]:
        """Analyse ``video_path`` into ``out_dir``; the report names the file ``display_name``."""
        from deepverify.pipeline import analyze_video

        report = analyze_video(
            video_path,
            model=self.model,
            detector=self.detector,
            num_frames=self.settings.num_frames,
            out_dir=out_dir,
            explain=self.settings.explain,
            progress=progress,
            # The upload is stored under a generated name; the report shows the user's own.
            display_name=display_name,
        )
        return report.model_dump(mode="json")
