"""The real analyzer the workers run: the pipeline core with the configured model and detector.

A service process loads its model once (:class:`ServiceModel`): the in-process worker's threads
and the live sessions all run on it. Each of them has a face detector of its own.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from deepverify.engine import check_device
from deepverify.errors import ConfigError, DetectorError, ModelError
from deepverify.service.core.settings import Settings
from deepverify.stages import ProgressCallback

if TYPE_CHECKING:
    from deepverify.engine import Engine
    from deepverify.faces import FaceDetector
    from deepverify.model.card import ModelCard
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


class ServiceModel:
    """The configured model, loaded on first use and then shared by every thread that analyses.

    One per service process. Sharing it is safe: ONNX Runtime's ``InferenceSession.run`` and a
    torch module in inference mode may be called from several threads at once, and the engines
    keep nothing between calls (a heatmap is computed from its own call's outputs,
    :mod:`deepverify.explain`). A face detector is not shared: OpenCV DNN's networks (the SSD, and
    the SSD that confirms YuNet's rescued faces) are not thread-safe, so :meth:`detector` builds
    one per caller (40-60 ms and 5-9 MiB, against 0.1-0.3 s and 23-40 MiB for the engine).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """The inference engine (loaded by the first caller; the others wait for it).

        Raises:
            ModelError: The model cannot be loaded.
        """
        with self._lock:
            if self._engine is None:
                self._engine = self._load()
            return self._engine

    def _load(self) -> Engine:
        from deepverify.engine import load_engine

        settings = self.settings
        model = load_engine(
            settings.model_path,
            engine=settings.engine,
            device=settings.device,
            threads=settings.inference_threads,
        )
        card = model.card
        detector = self._detector_name(card)
        warning = card.detector_warning(detector)
        if warning:
            logger.warning("%s", warning)
        logger.info(
            "model %s loaded for analysis (%s engine, %s detector)",
            card.model_id or "(unnamed)",
            model.name,
            detector,
        )
        return model

    def _detector_name(self, card: ModelCard) -> str:
        return self.settings.detector or card.detector

    def detector(self) -> FaceDetector:
        """A new face detector for one thread: the configured one, else the card's.

        Raises:
            ModelError: The model cannot be loaded.
            DetectorError: The detector's weights are missing or corrupt.
        """
        from deepverify.faces import create_detector

        return create_detector(self._detector_name(self.engine.card))


class PipelineAnalyzer:
    """Calls :func:`deepverify.pipeline.analyze_video` with a model loaded once.

    Args:
        settings: The service's settings.
        shared: The process's model (a model of its own is loaded when None).
    """

    def __init__(self, settings: Settings, *, shared: ServiceModel | None = None) -> None:
        shared = shared or ServiceModel(settings)
        self.settings = settings
        self.model = shared.engine
        self.detector = shared.detector()

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
