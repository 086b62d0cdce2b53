"""The real analyzer the workers run: the pipeline core with the configured model and detector.

One :class:`PipelineAnalyzer` per worker thread or process: Grad-CAM registers hooks on the
network, so a network instance is never shared between concurrent analyses.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from deepverify.errors import ConfigError
from deepverify.service.settings import Settings
from deepverify.stages import ProgressCallback

logger = logging.getLogger(__name__)


def check_analysis_settings(settings: Settings) -> None:
    """Refuse, before any job runs, a detector or device the analysis could never use.

    Called at start-up by whatever will analyse (``serve`` with its in-process worker, the Celery
    ``worker``), so a typo stops the process with one line instead of failing every job.

    Raises:
        ConfigError: ``detector`` is not in the detector registry, or ``device`` is not a torch
            device this machine has.
    """
    import torch

    from deepverify.faces import available_detectors

    names = available_detectors()
    if settings.detector not in names:
        raise ConfigError(
            f"invalid settings: DEEPVERIFY_DETECTOR: unknown face detector {settings.detector!r}; "
            f"choose one of {', '.join(names)}"
        )
    try:
        device = torch.device(settings.device)
    except (RuntimeError, ValueError):
        raise ConfigError(
            f"invalid settings: DEEPVERIFY_DEVICE: {settings.device!r} is not a torch device; "
            "use cpu, cuda or cuda:N"
        ) from None
    usable = {
        "cpu": True,
        "cuda": torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count(),
        "mps": torch.backends.mps.is_available(),
    }
    if not usable.get(device.type, False):
        raise ConfigError(
            f"invalid settings: DEEPVERIFY_DEVICE: {settings.device!r} is not available on this "
            "machine; use cpu or an installed GPU"
        )


class PipelineAnalyzer:
    """Calls :func:`deepverify.pipeline.analyze_video` with a model loaded once."""

    def __init__(self, settings: Settings) -> None:
        import torch

        from deepverify.faces import create_detector
        from deepverify.pipeline import load_model

        torch.set_num_threads(settings.torch_threads)
        self.settings = settings
        self.model = load_model(settings.model_path, device=settings.device)
        self.detector = create_detector(settings.detector)
        logger.info("model %s loaded for analysis", self.model.card.model_id or "(unnamed)")

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
        from deepverify.report import render_html

        report = analyze_video(
            video_path,
            model=self.model,
            detector=self.detector,
            num_frames=self.settings.num_frames,
            out_dir=out_dir,
            explain=self.settings.explain,
            progress=progress,
        )
        if display_name:
            # The upload is stored under a generated name; show the user's own in the report.
            video = report.video.model_copy(update={"filename": display_name})
            report = report.model_copy(update={"video": video})
            (out_dir / "report.json").write_text(report.to_json(), encoding="utf-8")
            if report.report_html:
                html = render_html(report, out_dir)
                (out_dir / report.report_html).write_text(html, encoding="utf-8")
        return report.model_dump(mode="json")
