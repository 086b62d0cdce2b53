"""The ``deepverify`` Typer application: registers one command per module."""

from __future__ import annotations

import typer

from deepverify.cli import (
    db,
    evaluate,
    extract,
    live,
    model,
    provenance,
    scan,
    serve,
    train,
    worker,
)

app = typer.Typer(
    name="deepverify",
    help="Deepfake video detection with calibrated verdicts and heatmaps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("scan")(scan.scan)
app.command("provenance")(provenance.provenance)
app.command("extract")(extract.extract)
app.command("train")(train.train)
app.command("evaluate")(evaluate.evaluate)
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.command("live")(live.live)
app.add_typer(db.app, name="db")
app.add_typer(model.app, name="model")


def main() -> None:
    """Console-script entry point."""
    app()
