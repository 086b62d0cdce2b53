"""``deepverify scan``: analyse one video, or every video in a folder."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deepverify.cli.common import console, err_console, fail, setup_logging, user_errors
from deepverify.cli.options import (
    DeviceOption,
    EngineOption,
    FramesOption,
    JsonOption,
    ModelOption,
    VerboseOption,
)
from deepverify.cli.scoring import DetectorOption, load_for_scoring
from deepverify.defaults import VIDEO_SUFFIXES
from deepverify.errors import DeepverifyError
from deepverify.stages import ProgressCallback

if TYPE_CHECKING:  # the pipeline pulls in OpenCV and ONNX Runtime: import it when a scan runs
    from deepverify.engine import Engine
    from deepverify.faces import FaceDetector
    from deepverify.report.schema import Report

_COLOURS = {
    "FAKE": "bold white on red",
    "REAL": "bold white on green",
    "INCONCLUSIVE": "bold black on yellow",
    "NO_FACE": "bold white on grey37",
}

# With --exit-code: the process's status says the verdict (errors stay 1, usage errors 2).
EXIT_CODES = {"REAL": 0, "FAKE": 3, "INCONCLUSIVE": 4}
_SEVERITY = ("REAL", "INCONCLUSIVE", "FAKE")  # a folder exits with its most severe verdict


@dataclass(frozen=True)
class ScanOptions:
    """How every video of one ``scan`` is analysed and shown.

    Attributes:
        model: the loaded engine (its card gives the defaults).
        detector: the face detector.
        frames: frames sampled per video; None for the model's.
        heatmaps: write class-activation heatmaps.
        as_json: print JSON instead of tables.
    """

    model: Engine
    detector: FaceDetector
    frames: int | None
    heatmaps: bool
    as_json: bool

    def analyze(
        self, video: Path, out_dir: Path, progress: ProgressCallback | None = None
    ) -> Report:
        """Analyse ``video`` into ``out_dir`` with these options."""
        from deepverify.pipeline import analyze_video

        return analyze_video(
            video, model=self.model, detector=self.detector, num_frames=self.frames,
            out_dir=out_dir, explain=self.heatmaps, progress=progress,
        )  # fmt: skip


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
    from deepverify.report.schema import VERDICT_MEANINGS

    verdict = report.verdict.replace("_", " ")
    meaning = VERDICT_MEANINGS[report.verdict]
    prob = "" if report.probability is None else f"  P(manipulated) = {report.probability:.1%}"
    if report.decision is not None:
        prob += f"  (two-class: {report.decision} at {report.threshold:.0%}"
        if report.band is not None and report.band[0] != report.band[1]:
            prob += f"; uncertain band {report.band[0]:.0%}-{report.band[1]:.0%}"
        prob += ")"
    console.print(f"[{_COLOURS[report.verdict]}] {verdict} [/] {meaning}{prob}", highlight=False)
    for reason in report.reasons:
        console.print(f"  - {reason.message}", highlight=False)
    console.print(report.explanation, highlight=False)
    if report.provenance is not None:
        console.print(f"provenance: {report.provenance.summary}", highlight=False, soft_wrap=True)
    if report.tracks:
        table = Table("track", "verdict", "P(fake)", "frames", "from (s)", "to (s)", "face px")
        for t in report.tracks:
            table.add_row(
                str(t.track_id), t.verdict or "", f"{t.probability:.1%}", str(t.frames),
                f"{t.first_timestamp:.2f}", f"{t.last_timestamp:.2f}", f"{t.median_face_px:.0f}",
            )  # fmt: skip
        console.print(table)
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in report.timings.items())
    console.print(f"[dim]{report.video.filename}: {report.video.width}x{report.video.height}, "
                  f"{report.video.duration_s:.1f}s · {timings}[/]")  # fmt: skip
    if report.report_html:
        console.print(f"report: {out_dir / report.report_html}")


def _scan_one(path: Path, out: Path, options: ScanOptions) -> str:
    with err_console.status("decoding…") as status:
        report = options.analyze(
            path, out, progress=lambda stage, f: status.update(f"{stage} {f:.0%}")
        )
    if options.as_json:
        console.print_json(report.to_json())
    else:
        _print_report(report, out)
    return report.verdict


def _folder_row(video: Path, rel: Path, out: Path, options: ScanOptions) -> dict[str, object]:
    """One line of the folder summary: the video's verdict, or why it could not be analysed."""
    try:
        report = options.analyze(video, out / rel.with_suffix(""))
    except DeepverifyError as exc:
        err_console.print(f"[red]failed:[/] {rel}: {exc}", highlight=False)
        return {"file": str(rel), "verdict": "ERROR", "probability": None, "decision": None,
                "reasons": "", "tracks": 0, "seconds": None, "error": str(exc)}  # fmt: skip
    return {"file": str(rel), "verdict": report.verdict, "probability": report.probability,
            "decision": report.decision, "reasons": "; ".join(r.code for r in report.reasons),
            "tracks": len(report.tracks), "seconds": report.timings.get("total"),
            "error": ""}  # fmt: skip


def _write_summary(rows: list[dict[str, object]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "summary.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "summary.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")


def _print_summary(rows: list[dict[str, object]], out: Path) -> None:
    table = Table("file", "verdict", "P(fake)", "note")
    for row in rows:
        prob = row["probability"]
        note = row["error"] or row["reasons"]
        table.add_row(str(row["file"]), str(row["verdict"]),
                      "" if prob is None else f"{prob:.1%}", str(note))  # fmt: skip
    console.print(table)
    console.print(f"summary: {out / 'summary.csv'}")


def _scan_folder(folder: Path, out: Path, options: ScanOptions) -> str:
    videos = find_videos(folder)
    if not videos:
        fail(f"no video files in {folder} (looked for {', '.join(sorted(VIDEO_SUFFIXES))})")
    rows: list[dict[str, object]] = []
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()]  # fmt: skip
    with Progress(*columns, console=err_console) as bar:
        task = bar.add_task("scanning", total=len(videos))
        for video in videos:
            rel = video.relative_to(folder)
            bar.update(task, description=str(rel))
            rows.append(_folder_row(video, rel, out, options))
            bar.advance(task)
    _write_summary(rows, out)
    if options.as_json:
        console.print_json(json.dumps(rows))
    else:
        _print_summary(rows, out)
    failed = sum(1 for row in rows if row["verdict"] == "ERROR")
    if failed:
        fail(f"{failed} of {len(rows)} videos could not be analysed (see summary.csv)")
    return max((str(row["verdict"]) for row in rows), key=_severity)


def _severity(verdict: str) -> int:
    return _SEVERITY.index(verdict) if verdict in _SEVERITY else len(_SEVERITY)


def scan(
    path: Annotated[Path, typer.Argument(help="A video file, or a folder to scan recursively.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for reports and heatmaps.")
    ] = Path("deepverify-reports"),
    as_json: JsonOption = False,
    frames: FramesOption = None,
    detector: DetectorOption = None,
    model: ModelOption = None,
    engine: EngineOption = None,
    device: DeviceOption = "cpu",
    heatmaps: Annotated[bool, typer.Option(help="Write heatmaps (class activation maps).")] = True,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code",
            help="Exit with the verdict: 0 REAL, 3 FAKE, 4 INCONCLUSIVE (a folder: its most "
            "severe verdict); errors stay 1.",
        ),
    ] = False,
    verbose: VerboseOption = False,
) -> None:
    """Say whether a video's faces are manipulated, with the evidence."""
    setup_logging(verbose)
    with user_errors():
        from deepverify.faces import create_detector

        if not path.exists():
            fail(f"{path} does not exist")
        loaded, face_detector = load_for_scoring(
            model, engine=engine, device=device, detector=detector
        )
        options = ScanOptions(
            model=loaded, detector=create_detector(face_detector), frames=frames,
            heatmaps=heatmaps, as_json=as_json,
        )  # fmt: skip
        if path.is_dir():
            verdict = _scan_folder(path, out, options)
        else:
            verdict = _scan_one(path, out / path.stem, options)
    if exit_code:
        raise typer.Exit(EXIT_CODES.get(verdict, EXIT_CODES["INCONCLUSIVE"]))
