"""The self-contained HTML report: the report's key frames, heatmaps and timeline embedded."""

from __future__ import annotations

import base64
import functools
import mimetypes
from pathlib import Path

from jinja2 import Environment, PackageLoader, Template, select_autoescape

from deepverify.report.schema import FrameResult, Report
from deepverify.report.timeline import timeline_png

HTML_FRAMES = 4


def key_frames(report: Report, count: int = HTML_FRAMES) -> list[FrameResult]:
    """The ``count`` frames with the highest face probability, in time order."""
    with_faces = [f for f in report.frames if f.faces]
    ranked = sorted(
        with_faces, key=lambda f: max(x.fake_probability for x in f.faces), reverse=True
    )
    return sorted(ranked[:count], key=lambda f: f.position)


def _data_uri(path: Path) -> str:
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{media_type};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


@functools.cache
def report_template() -> Template:
    """The page's template, compiled once per process.

    Compiling it costs 0.02-0.03 s of CPU, more than rendering it: a worker compiles it for its
    first report only, and :func:`~deepverify.report.output.write_pages` asks for it while the
    report's images are still being written.
    """
    env = Environment(
        loader=PackageLoader("deepverify.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    return env.get_template("report.html.j2")


def render_html(report: Report, out_dir: Path) -> str:
    """Render a self-contained HTML report: every image it shows is embedded as a data URI.

    Args:
        report: The report to render.
        out_dir: The folder the report's relative image paths are relative to.
    """
    named = set(report.image_paths())

    def embed(rel: str | None) -> str | None:
        """The data URI of an image the report names and the folder holds, else None."""
        if rel in named and (out_dir / rel).is_file():
            return _data_uri(out_dir / rel)
        return None

    timeline = embed(report.timeline_plot)
    if timeline is None:
        timeline = "data:image/png;base64," + base64.b64encode(timeline_png(report)).decode()
    return report_template().render(
        report=report, embed=embed, timeline=timeline, key_frames=key_frames(report)
    )
