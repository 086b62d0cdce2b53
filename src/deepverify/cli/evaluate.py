"""``deepverify evaluate``: metrics and plots of a model on a labelled dataset."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deepverify.cli.common import console, err_console, setup_logging, user_errors
from deepverify.cli.options import (
    DeviceOption,
    EngineOption,
    FramesOption,
    JsonOption,
    ModelOption,
    VerboseOption,
)
from deepverify.cli.scoring import DetectorOption, load_for_scoring
from deepverify.faces import create_detector
from deepverify.training.datasets import (
    DatasetOptions,
    ManifestReport,
    available_formats,
    load_dataset,
)

if TYPE_CHECKING:
    from deepverify.training.eval_result import EvaluationResult


def evaluate(
    data: Annotated[
        list[Path],
        typer.Argument(help="Labelled dataset folders (see --format); figures for each and all."),
    ],
    model: ModelOption = None,
    engine: EngineOption = None,
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help=f"Dataset layout: {', '.join(available_formats())}."),
    ] = "folder",
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for JSON and plots.")] = Path(
        "deepverify-eval"
    ),
    detector: DetectorOption = None,
    frames: FramesOption = None,
    record: Annotated[
        str | None,
        typer.Option(
            help="Also store the figures in the model card under metrics.evaluation.NAME."
        ),
    ] = None,
    device: DeviceOption = "cpu",
    manifest: Annotated[
        Path | None,
        typer.Option(
            help="Folder format: labels, groups and manipulations from this manifest "
            "(default: manifest.json in each folder or its parent)."
        ),
    ] = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Score every video as `scan` would; write accuracy, AUC, coverage, log loss, ECE, plots."""
    setup_logging(verbose)
    with user_errors():
        manifest_report = ManifestReport()
        items, sources = [], []
        for folder, name in zip(data, source_names(data), strict=True):
            found = load_dataset(
                folder, fmt, DatasetOptions(manifest=manifest, report=manifest_report)
            )
            items += found
            sources += [name] * len(found)
        from deepverify.model import default_model_path
        from deepverify.training.evaluation import evaluate_items, record_in_card, write_outputs

        loaded, chosen = load_for_scoring(model, engine=engine, device=device, detector=detector)
        face_detector = create_detector(chosen)
        columns = (TextColumn("[bold]evaluate"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("{task.fields[last]}"))  # fmt: skip
        with Progress(*columns, console=err_console, transient=True) as progress:
            task = progress.add_task("evaluate", total=len(items), last="")
            result = evaluate_items(
                items,
                model=loaded,
                detector=face_detector,
                num_frames=frames,
                progress=lambda done, total, name: progress.update(task, completed=done, last=name),
                sources=sources,
            )
        files = write_outputs(result, out)
        if record:
            checkpoint = model if model is not None else default_model_path()
            assert checkpoint is not None  # load_engine succeeded
            record_in_card(checkpoint, record, result)
    if as_json:
        console.print_json(result.model_dump_json())
        return
    table = Table("level", "n", "accuracy", "F1", "ROC AUC", "AP", "log loss", "ECE")
    for level in ("video", "frame"):
        m = result.video if level == "video" else result.frame
        cells = [
            m[k] for k in ("accuracy", "f1", "roc_auc", "average_precision", "log_loss", "ece")
        ]
        table.add_row(level, str(m["n"]), *("n/a" if v is None else f"{v:.3f}" for v in cells))
    console.print(table)
    ci = result.video_intervals
    if ci["roc_auc"] is not None:
        spans = ", ".join(
            f"{label} {ci[key][0]:.3f}-{ci[key][1]:.3f}"
            for key, label in (("roc_auc", "ROC AUC"), ("accuracy", "accuracy"),
                               ("log_loss", "log loss"))
        )  # fmt: skip
        console.print(
            f"video, {100 * ci['level']:.0f} % intervals ({ci['method']}, "
            f"{ci['resamples']} resamples): {spans}",
            highlight=False,
        )
    console.print(_decisive_table(result))
    console.print(_manipulation_table(result))
    pairs = result.within_group
    if pairs["auc"] is not None:
        console.print(
            f"fake above the real video of its own group: {pairs['auc']:.3f} "
            f"({pairs['pairs']} pairs in {pairs['groups']} groups)",
            highlight=False,
        )
    cm = result.video["confusion_matrix"]
    console.print(
        f"threshold {result.model.threshold:.3f}: TN {cm['tn']}  FP {cm['fp']}  "
        f"FN {cm['fn']}  TP {cm['tp']}",
        highlight=False,
    )
    counts = result.counts
    if counts.no_face or counts.failed:
        err_console.print(
            f"[yellow]{counts.no_face} video(s) without a face and {counts.failed} "
            "unreadable file(s) were left out of the metrics[/]",
            highlight=False,
        )
    for problem in manifest_report.problems:
        err_console.print(f"[yellow]manifest[/] {problem}", highlight=False)
    for failure in result.failed:
        err_console.print(f"[yellow]skipped[/] {failure.file}: {failure.reason}", highlight=False)
    console.print(f"results: {out / files['json']}")


def source_names(folders: list[Path]) -> list[str]:
    """A short name per folder: its own name, or its path where two names collide."""
    names = [folder.name or str(folder) for folder in folders]
    return [n if names.count(n) == 1 else str(f) for n, f in zip(names, folders, strict=True)]


def _decisive_table(result: EvaluationResult) -> Table:
    table = Table("source", "videos", "ROC AUC", "accuracy (2-class)", "coverage",
                  "accuracy (decisive)", "FAKE / REAL / INCONCLUSIVE")  # fmt: skip
    rows = [(name, s.video, s.decisive) for name, s in result.per_source.items()]
    if len(rows) > 1:
        rows.append(("all", result.video, result.decisive))
    for name, video, decisive in rows:
        counts = _verdict_counts(decisive)
        table.add_row(
            name, str(decisive["videos"]), _fmt(video["roc_auc"]), _fmt(video["accuracy"]),
            _fmt(decisive["coverage"]), _fmt(decisive["accuracy"]),
            f"{counts['FAKE']} / {counts['REAL']} / {counts['INCONCLUSIVE']}",
        )  # fmt: skip
    return table


def _verdict_counts(decisive: dict[str, Any]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for side in decisive["verdicts"].values():
        counts.update(side)
    return counts


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _manipulation_table(result: EvaluationResult) -> Table:
    table = Table("manipulation", "videos", "scored", "above threshold", "mean P(fake)",
                  "AUC vs real", "F/R/I")  # fmt: skip
    for row in result.per_manipulation:
        mean, auc = row.mean_probability, row.roc_auc_vs_real
        table.add_row(
            row.manipulation,
            str(row.videos),
            str(row.scored),
            f"{row.above_threshold}/{row.scored}",
            "n/a" if mean is None else f"{mean:.3f}",
            "n/a" if auc is None else f"{auc:.3f}",
            "/".join(str(row.verdicts.get(v, 0)) for v in ("FAKE", "REAL", "INCONCLUSIVE")),
        )
    return table
