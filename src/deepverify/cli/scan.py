"""``deepverify scan``: analyse one video, or every video in a folder."""

from __future__ import annotations

import csv
import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deepverify.cli.common import (
    ENGINE_HELP,
    EngineName,
    console,
    err_console,
    fail,
    setup_logging,
    user_errors,
    warn,
)
from deepverify.defaults import VIDEO_SUFFIXES
from deepverify.engine import DEFAULT_ENGINE
from deepverify.errors import DeepverifyError
from deepverify.faces import available_detectors, create_detector

if TYPE_CHECKING:  # the pipeline pulls in OpenCV and ONNX Runtime: import it when a scan runs
    from deepverify.engine import Engine
    from deepverify.report import Report

# The CLI's choices come from the detector registry.
DetectorName = Enum("DetectorName", {name: name for name in available_detectors()}, type=str)  # type: ignore[misc]

_COLOURS = {
    "FAKE": "bold white on red",
    "REAL": "bold white on green",
    "NO_FACE": "bold white on grey37",
}


def find_videos(folder: Path) -> list[Path]:
    """Every file under ``folder`` with a video suffix, sorted (hidden folders skipped)."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in VIDEO_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _print_report(report: Report, out_dir: Path) -> None:
    verdict = report.verdict.replace("_", " ")
    prob = "" if report.probability is None else f"  P(manipulated) = {report.probability:.1%}"
    console.print(
        f"[{_COLOURS[report.verdict]}] {verdict} [/]{prob}  (threshold {report.threshold:.0%})"
    )
    console.print(report.explanation, highlight=False)
    if report.provenance is not None:
        console.print(f"provenance: {report.provenance.summary}", highlight=False, soft_wrap=True)
    if report.tracks:
        table = Table("track", "P(fake)", "frames", "from (s)", "to (s)", "face px")
        for t in report.tracks:
            table.add_row(
                str(t.track_id), f"{t.probability:.1%}", str(t.frames),
                f"{t.first_timestamp:.2f}", f"{t.last_timestamp:.2f}", f"{t.median_face_px:.0f}",
            )  # fmt: skip
        console.print(table)
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in report.timings.items())
    console.print(f"[dim]{report.video.filename}: {report.video.width}x{report.video.height}, "
                  f"{report.video.duration_s:.1f}s · {timings}[/]")  # fmt: skip
    if report.report_html:
        console.print(f"report: {out_dir / report.report_html}")


def _scan_one(path: Path, model: Engine, detector_name: str, out: Path, frames: int | None,
              heatmaps: bool, as_json: bool) -> None:  # fmt: skip
    from deepverify.pipeline import analyze_video

    detector = create_detector(detector_name)
    with err_console.status("decoding…") as status:
        report = analyze_video(
            path, model=model, detector=detector, num_frames=frames, out_dir=out,
            explain=heatmaps, progress=lambda stage, f: status.update(f"{stage} {f:.0%}"),
        )  # fmt: skip
    if as_json:
        console.print_json(report.to_json())
    else:
        _print_report(report, out)


def _scan_folder(folder: Path, model: Engine, detector_name: str, out: Path,
                 frames: int | None, heatmaps: bool, as_json: bool) -> None:  # fmt: skip
    videos = find_videos(folder)
    if not videos:
        fail(f"no video files in {folder} (looked for {', '.join(sorted(VIDEO_SUFFIXES))})")
    from deepverify.pipeline import analyze_video

    detector = create_detector(detector_name)
    rows: list[dict[str, object]] = []
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()]  # fmt: skip
    with Progress(*columns, console=err_console) as bar:
        task = bar.add_task("scanning", total=len(videos))
        for video in videos:
            rel = video.relative_to(folder)
            bar.update(task, description=str(rel))
            row: dict[str, object] = {"file": str(rel)}
            try:
                report = analyze_video(
                    video, model=model, detector=detector, num_frames=frames,
                    out_dir=out / rel.with_suffix(""), explain=heatmaps,
                )  # fmt: skip
                row.update(verdict=report.verdict, probability=report.probability,
                           tracks=len(report.tracks), seconds=report.timings.get("total"),
                           error="")  # fmt: skip
            except DeepverifyError as exc:
                row.update(verdict="ERROR", probability=None, tracks=0, seconds=None,
                           error=str(exc))  # fmt: skip
                err_console.print(f"[red]failed:[/] {rel}: {exc}", highlight=False)
            rows.append(row)
            bar.advance(task)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "summary.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "summary.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    if as_json:
        console.print_json(json.dumps(rows))
    else:
        table = Table("file", "verdict", "P(fake)", "note")
        for row in rows:
            prob = row["probability"]
            table.add_row(str(row["file"]), str(row["verdict"]),
                          "" if prob is None else f"{prob:.1%}", str(row["error"]))  # fmt: skip
        console.print(table)
        console.print(f"summary: {out / 'summary.csv'}")
    failed = sum(1 for row in rows if row["verdict"] == "ERROR")
    if failed:
        fail(f"{failed} of {len(rows)} videos could not be analysed (see summary.csv)")


def scan(
    path: Annotated[Path, typer.Argument(help="A video file, or a folder to scan recursively.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for reports and heatmaps.")
    ] = Path("deepverify-reports"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    frames: Annotated[
        int | None, typer.Option(min=1, max=512, help="Frames to sample (default: the model's).")
    ] = None,
    detector: Annotated[
        DetectorName | None,
        typer.Option(help="Face detector (default: the one the model was trained with)."),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(help="Model .onnx/.safetensors/.json (card); default: the packaged one."),
    ] = None,
    engine: Annotated[EngineName, typer.Option(help=ENGINE_HELP)] = EngineName(DEFAULT_ENGINE),
    device: Annotated[str, typer.Option(help="cpu; cuda or cuda:N with --engine torch.")] = "cpu",
    heatmaps: Annotated[bool, typer.Option(help="Write heatmaps (class activation maps).")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Say whether a video's faces are manipulated, with the evidence."""
    setup_logging(verbose)
    with user_errors():
        from deepverify.engine import load_engine
        from deepverify.pipeline import UNTRAINED_WARNING

        if not path.exists():
            fail(f"{path} does not exist")
        loaded = load_engine(model, engine=engine.value, device=device)
        if not loaded.card.trained:
            warn(UNTRAINED_WARNING)
        face_detector = detector.value if detector is not None else loaded.card.detector
        mismatch = loaded.card.detector_warning(face_detector)
        if mismatch:
            warn(mismatch)
        if path.is_dir():
            _scan_folder(path, loaded, face_detector, out, frames, heatmaps, as_json)
        else:
            _scan_one(path, loaded, face_detector, out / path.stem, frames, heatmaps, as_json)
