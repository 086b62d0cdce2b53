"""The real analyzer the workers run: the pipeline core with the configured model and detector.

One :class:`PipelineAnalyzer` per worker thread or process, each with its own inference session.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from deepverify.engine import check_device
from deepverify.errors import ConfigError, DetectorError, ModelError
from deepverify.service.core.settings import Settings
from deepverify.stages import ProgressCallback

if TYPE_CHECKING:
    from deepverify.report.schema import Report
    from deepverify.video.frames import Check

logger = logging.getLogger(__name__)


def check_analysis_settings(settings: Settings) -> None:
    """Refuse, before any job runs, a detector or device the analysis could never use.

    Called at start-up by whatever will analyse (``serve`` with its in-process worker, the Celery
    ``worker``), so a typo stops the process with one line instead of failing every job.

    Raises:
        ConfigError: ``detector`` is not in the detector registry, or ``device`` is not a torch
            device this machine has.
    """
    from deepverify.faces import check_detector_name

    if settings.detector is not None:
        try:
            check_detector_name(settings.detector)
        except DetectorError as exc:
            raise ConfigError(f"invalid settings: DEEPVERIFY_DETECTOR: {exc}") from None
    try:
        check_device(settings.device, settings.engine)
    except ModelError as exc:
        raise ConfigError(f"invalid settings: DEEPVERIFY_DEVICE: {exc}") from None


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
            threads=settings.inference_threads,
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
        check: Check | None = None,
    ) -> Report:
        """Analyse ``video_path`` into ``out_dir``; the report names the file ``display_name``."""
        from deepverify.pipeline import analyze_video

        return analyze_video(
            video_path,
            model=self.model,
            detector=self.detector,
            num_frames=self.settings.num_frames,
            out_dir=out_dir,
            explain=self.settings.explain,
            progress=progress,
            # The upload is stored under a generated name; the report shows the user's own.
            display_name=display_name,
            check=check,
        )
