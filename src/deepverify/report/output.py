"""The report's files: a staging folder, background image writing, and the JSON/HTML output.

Everything :func:`deepverify.pipeline.analyze_video` puts on disk goes through here. Files are
written into a scratch folder beside the destination and moved into it only when the whole
analysis succeeded, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from deepverify.report.render import render_html, report_template
from deepverify.report.schema import Report
from deepverify.report.timeline import timeline_png

logger = logging.getLogger(__name__)

IMAGE_SUFFIX = ".jpg"
"""Heatmaps, crops and frames are photographs to look at: JPEG, several times cheaper to encode
than PNG. Only the timeline plot (line art) stays PNG, where JPEG would smear it."""
JPEG_QUALITY = 90
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
TIMELINE_PLOT = "timeline.png"


@contextmanager
def staging(out_dir: Path | None) -> Iterator[Path | None]:
    """A scratch folder beside ``out_dir`` whose files move into it only on success.

    Yields ``None`` (nothing is written) when ``out_dir`` is ``None``.
    """
    if out_dir is None:
        yield None
        return
    out_dir = out_dir.resolve()
    scratch = out_dir.parent / f".{out_dir.name}.partial-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True)
    try:
        yield scratch
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in scratch.iterdir():
            target = out_dir / item.name
            if target.is_dir():
                shutil.rmtree(target)
            item.replace(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_image(path: Path, rgb: np.ndarray) -> None:
    """Encode an RGB ``uint8`` image by its suffix (JPEG or PNG) and write it."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if path.suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    else:
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    if not cv2.imwrite(str(path), bgr, params):
        raise OSError(f"could not write {path}")


class ImageWriter:
    """Writes report images on worker threads while the caller goes on with the analysis.

    OpenCV releases the GIL while encoding, so the writes overlap with scoring and report
    building. Use as a context manager: leaving it waits for every write and raises the first
    error (a failed write fails the analysis; nothing half-written is published).
    """

    def __init__(self, root: Path, *, workers: int | None = None) -> None:
        """Write under ``root`` with at most ``workers`` threads (default: up to 4 cores)."""
        self.root = root
        self._pool = ThreadPoolExecutor(
            max_workers=workers or min(4, os.cpu_count() or 1), thread_name_prefix="images"
        )
        self._pending: list[Future[None]] = []
        self._folders: set[Path] = set()

    def submit(self, name: str, rgb: np.ndarray) -> str:
        """Queue ``rgb`` for writing as ``name`` plus :data:`IMAGE_SUFFIX`; return that path."""
        return self.render(name, lambda: rgb)

    def render(self, name: str, make: Callable[[], np.ndarray]) -> str:
        """Like :meth:`submit`, the image made by ``make()`` on a worker thread.

        Heatmap overlays are composed there, in parallel, rather than on the caller's thread.
        """
        rel = name + IMAGE_SUFFIX
        path = self.root / rel
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        self._pending.append(self._pool.submit(lambda: write_image(path, make())))
        return rel

    def wait(self) -> None:
        """Block until every queued image is written; raise the first failure."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def __enter__(self) -> ImageWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.wait()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


def report_file_names(*, with_files: bool, has_tracks: bool) -> tuple[str | None, str | None]:
    """The HTML page and timeline plot a report names (``None`` where none is written)."""
    if not with_files:
        return None, None
    return REPORT_HTML, (TIMELINE_PLOT if has_tracks else None)


def write_pages(report: Report, folder: Path, images: ImageWriter) -> None:
    """Write the timeline plot and the self-contained HTML page into ``folder``.

    The plot is drawn and the page's template compiled while ``images`` finishes writing; the
    page embeds those images, so it is rendered only once they are all on disk.
    """
    if report.timeline_plot:
        (folder / report.timeline_plot).write_bytes(timeline_png(report))
    if report.report_html:
        report_template()
    images.wait()
    if report.report_html:
        (folder / report.report_html).write_text(render_html(report, folder), encoding="utf-8")


def write_json(report: Report, folder: Path) -> None:
    """Write ``report.json`` into ``folder``."""
    (folder / REPORT_JSON).write_text(report.to_json(), encoding="utf-8")
