"""The real analyzer the workers run: the pipeline core with the configured model and detector.

One :class:`PipelineAnalyzer` per worker thread or process: Grad-CAM registers hooks on the
network, so a network instance is never shared between concurrent analyses.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepverify.service.jobs import ProgressCallback
from deepverify.service.settings import Settings

if TYPE_CHECKING:
    from deepverify.frames import Check

logger = logging.getLogger(__name__)


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
        check: Check | None = None,
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
            check=check,
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
