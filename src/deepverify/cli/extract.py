"""``deepverify extract``: build the face-crop cache that training reads."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from deepverify.cli.common import console, err_console, setup_logging, user_errors
from deepverify.cli.options import VerboseOption
from deepverify.defaults import (
    DEFAULT_EXTRACT_DETECTOR,
    DEFAULT_EXTRACT_LANDMARKS,
    DEFAULT_NUM_FRAMES,
    EXTRACT_MARGIN,
    EXTRACT_SIZE,
    MAX_FRAMES,
)
from deepverify.faces import available_detectors
from deepverify.training.datasets import (
    FFPP_COMPRESSIONS,
    DatasetOptions,
    ManifestReport,
    available_formats,
    load_dataset,
)

if TYPE_CHECKING:
    from deepverify.training.cache_index import CacheRecord


def extract(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder, in the layout of --format.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Cache folder (created, resumable).")],
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help=f"Dataset layout: {', '.join(available_formats())}."),
    ] = "folder",
    frames: Annotated[
        int, typer.Option(min=1, max=MAX_FRAMES, help="Frames sampled per video.")
    ] = DEFAULT_NUM_FRAMES,
    detector: Annotated[
        str,
        typer.Option(help=f"Detector for the boxes: {', '.join(available_detectors())}."),
    ] = DEFAULT_EXTRACT_DETECTOR,
    landmarks: Annotated[
        str,
        typer.Option(
            help="Landmarks for self-blending masks: a detector's five points, 'dlib68' "
            "(68 points, training extra) or 'none' (the box)."
        ),
    ] = DEFAULT_EXTRACT_LANDMARKS,
    margin: Annotated[
        float, typer.Option(min=0.0, help="Cache crop margin (> model's).")
    ] = EXTRACT_MARGIN,
    size: Annotated[int, typer.Option(min=32, help="Cached crop side in pixels.")] = EXTRACT_SIZE,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
    methods: Annotated[
        str | None, typer.Option(help="FF++ methods, comma-separated (default: all present).")
    ] = None,
    compression: Annotated[
        str, typer.Option(help=f"FF++ compression: {', '.join(FFPP_COMPRESSIONS)}.")
    ] = "c23",
    verbose: VerboseOption = False,
) -> None:
    """Detect, track and crop the faces of a dataset into a cache for training."""
    setup_logging(verbose)
    with user_errors():
        from deepverify.training.cache import ExtractOptions, extract_dataset

        manifest_report = ManifestReport()
        options = DatasetOptions(
            methods=tuple(m.strip() for m in methods.split(",") if m.strip()) if methods else None,
            compression=compression,
            report=manifest_report,
        )
        items = load_dataset(dataset, fmt, options)
        extract_options = ExtractOptions(
            num_frames=frames,
            detector=detector,
            landmark_detector=None if landmarks == "none" else landmarks,
            margin=margin,
            size=size,
        )
        columns = (
            TextColumn("[bold]extract"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[last]}"),
        )
        with Progress(*columns, console=err_console, transient=True) as progress:
            task = progress.add_task("extract", total=None, last="")

            def advance(done: int, total: int, record: CacheRecord) -> None:
                progress.update(task, completed=done, total=total, last=record.item_id)

            summary = extract_dataset(
                items,
                out,
                extract_options,
                workers=workers,
                dataset={"root": dataset.resolve().name, "format": fmt},
                progress=advance,
            )
    table = Table("items", "already cached", "with faces", "no face", "failed")
    table.add_row(
        str(summary.total),
        str(summary.skipped),
        str(summary.ok),
        str(summary.no_face),
        str(summary.failed),
    )
    console.print(table)
    for item_id, reason in summary.failures:
        err_console.print(f"[yellow]skipped[/] {item_id}: {reason}", highlight=False)
    for problem in manifest_report.problems:
        err_console.print(f"[yellow]manifest[/] {problem}", highlight=False)
    if manifest_report.problems:
        err_console.print(f"{len(manifest_report.problems)} manifest row(s) skipped")
    console.print(f"cache: {out}")
