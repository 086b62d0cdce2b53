"""``deepverify train``: train a detector on a face-crop cache from a YAML config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from deepverify.cli.common import console, err_console, setup_logging, user_errors
from deepverify.cli.options import VerboseOption
from deepverify.extras import require_torch


def train(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config (default: all defaults).")
    ] = None,
    cache: Annotated[
        Path | None, typer.Option(help="Face-crop cache (overrides data.cache).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder (out_dir).")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Overrides optim.epochs.")] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override any field: section.key=value (repeatable)."),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/last.pt if present.")] = True,
    verbose: VerboseOption = False,
) -> None:
    """Train on a cache written by `deepverify extract` (single process or under torchrun)."""
    setup_logging(verbose)
    extra = list(overrides or [])
    if cache is not None:
        extra.append(f"data.cache={cache.resolve()}")
    if out is not None:
        extra.append(f"out_dir={out.resolve()}")
    if epochs is not None:
        extra.append(f"optim.epochs={epochs}")
    with user_errors():
        from deepverify.training.config import load_config  # pulls in OpenCV: not for --help

        cfg = load_config(config, extra)
        require_torch("deepverify train")
        # Imported here: torch and the model load only when a run really starts.
        from deepverify.training.trainer import train as run_training

        columns = (
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            TextColumn("step {task.completed}/{task.total}"),
            TextColumn("loss {task.fields[loss]:.4f}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err_console, transient=True) as progress:
            task = progress.add_task("train", total=None, epoch=0, loss=0.0)

            def on_step(epoch: int, step: int, steps: int, loss: float) -> None:
                progress.update(task, completed=step, total=steps, epoch=epoch, loss=loss)

            def on_epoch(row: dict[str, Any]) -> None:
                auc = "n/a" if row["val_auc"] is None else f"{row['val_auc']:.4f}"
                progress.console.print(
                    f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}, "
                    f"val loss {row['val_loss']:.4f}, val AUC {auc} ({row['seconds']:.0f}s)",
                    highlight=False,
                )

            result = run_training(cfg, resume=resume, on_step=on_step, on_epoch=on_epoch)
    if result.card is None or result.model_path is None:
        return  # not rank 0
    val = result.card.metrics.get("validation", {}).get("video", {})
    table = Table("model", "best epoch", "val AUC", "threshold", "temperature")
    auc = val.get("roc_auc")
    table.add_row(
        str(result.model_path),
        str(result.best_epoch),
        "n/a" if auc is None else f"{auc:.4f}",
        f"{result.card.threshold:.3f}",
        f"{result.card.temperature:.3f}",
    )
    console.print(table)
