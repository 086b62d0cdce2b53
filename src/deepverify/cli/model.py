"""``deepverify model``: create detector checkpoints and export them to ONNX (train extra)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from deepverify.cli.common import console, err_console, fail, setup_logging, user_errors
from deepverify.cli.options import VerboseOption
from deepverify.defaults import DEFAULT_NUM_FRAMES
from deepverify.extras import require_torch
from deepverify.model import DEFAULT_BACKBONE, ModelCard, available_backbones, card_path

# The CLI's choices come from the backbone registry.
BackboneName = Enum("BackboneName", {name: name for name in available_backbones()}, type=str)  # type: ignore[misc]

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.callback()
def model() -> None:
    """Create detector checkpoints and export them for ONNX Runtime."""
    # A callback keeps ``init`` a sub-command even while it is the only one.


def card_table(card: ModelCard, path: Path) -> Table:
    """A two-column rich table summarising a model card."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    status = "[green]yes[/]" if card.trained else "[yellow]no (untrained: verdicts meaningless)[/]"
    rows = {
        "model id": card.model_id,
        "backbone": card.backbone,
        "input": f"{card.input_size}x{card.input_size}, mean {card.mean}, std {card.std}",
        "frames": str(card.frames),
        "crop margin": f"{card.crop_margin:g}",
        "LSTM": f"{card.lstm_layers} layer(s), hidden {card.lstm_hidden}",
        "threshold": f"{card.threshold:g} (temperature {card.temperature:g})",
        "detector": card.detector,
        "trained": status,
        "weights": f"{path.with_suffix('.safetensors')} (sha256 {card.short_sha}…)",
        "onnx": f"{path.with_suffix('.onnx')} (sha256 {card.onnx_sha256[:12]}…)"
        if card.onnx_sha256
        else "none (deepverify model export)",
        "card": str(card_path(path)),
    }
    for key, value in rows.items():
        table.add_row(key, value)
    return table


@app.command("init")
def init(
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint to write (.safetensors).")],
    backbone: Annotated[BackboneName, typer.Option(help="Per-crop CNN.")] = BackboneName(
        DEFAULT_BACKBONE
    ),
    input_size: Annotated[
        int | None,
        typer.Option(min=32, max=1024, help="Crop side in pixels (default: the backbone's)."),
    ] = None,
    frames: Annotated[
        int, typer.Option(min=1, max=512, help="Frames per video (LSTM steps).")
    ] = DEFAULT_NUM_FRAMES,
    lstm_hidden: Annotated[int, typer.Option(min=1, help="LSTM hidden size.")] = 256,
    pretrained: Annotated[
        bool, typer.Option(help="Initialise the backbone with ImageNet weights.")
    ] = True,
    seed: Annotated[int, typer.Option(help="Seed for the random (head) weights.")] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing checkpoint.")
    ] = False,
    verbose: VerboseOption = False,
) -> None:
    """Write an untrained checkpoint (ImageNet backbone, random heads) and its model card."""
    setup_logging(verbose)
    if out.suffix != ".safetensors":
        fail(f"--out {out} must end in .safetensors (the card is written beside it as .json)")
    if not force and (out.exists() or card_path(out).exists()):
        fail(f"{out} already exists; choose another --out or pass --force")
    with user_errors():
        require_torch("deepverify model init")
        import torch

        from deepverify.model import build_model, save_checkpoint

        overrides = {"frames": frames, "lstm_hidden": lstm_hidden}
        if input_size is not None:
            overrides["input_size"] = input_size
        card = ModelCard.for_backbone(backbone.value, **overrides)
        torch.manual_seed(seed)
        with err_console.status(f"building {backbone.value}…"):
            model = build_model(card, pretrained=pretrained)
            card = save_checkpoint(model, card, out)
    init_kind = "ImageNet backbone" if pretrained else "random weights"
    console.print(f"[bold]wrote untrained checkpoint[/] ({init_kind}, random heads)")
    console.print(card_table(card, out))


@app.command("export")
def export(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint (.safetensors, card beside it).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="ONNX file to write (default: beside the checkpoint)."),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Export a checkpoint to ONNX for the default engine; its card records the graph's sha256."""
    setup_logging(verbose)
    with user_errors():
        require_torch("deepverify model export")
        from deepverify.model.export import export_onnx

        with err_console.status(f"exporting {checkpoint}…"):
            path, card = export_onnx(checkpoint, out)
    console.print(f"[bold]wrote[/] {path} (sha256 {card.onnx_sha256[:12]}…)")
    console.print(card_table(card, checkpoint))
