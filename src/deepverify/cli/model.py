"""``deepverify model``: create, export (train extra) and fit the decision policy of models."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from deepverify.cli.common import console, err_console, fail, setup_logging, user_errors
from deepverify.cli.options import VerboseOption
from deepverify.defaults import MAX_FRAMES
from deepverify.extras import require_torch
from deepverify.model import DEFAULT_BACKBONE, ModelCard, available_backbones, card_path

# The CLI's choices come from the backbone registry.
BackboneName = Enum("BackboneName", {name: name for name in available_backbones()}, type=str)  # type: ignore[misc]

app = typer.Typer(no_args_is_help=True, add_completion=False)


def _card_default(name: str) -> object:
    """A model card field's default, for ``--help`` (the card states it)."""
    return ModelCard.model_fields[name].default


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
        typer.Option(max=1024, help="Crop side in pixels (default: the backbone's)."),
    ] = None,
    frames: Annotated[
        int | None,
        typer.Option(
            max=MAX_FRAMES,
            help=f"Frames per video (LSTM steps); default {_card_default('frames')}.",
        ),
    ] = None,
    lstm_hidden: Annotated[
        int | None,
        typer.Option(help=f"LSTM hidden size; default {_card_default('lstm_hidden')}."),
    ] = None,
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
        # Left out: the card's default (input size: the backbone's); the card checks the values.
        chosen = {"input_size": input_size, "frames": frames, "lstm_hidden": lstm_hidden}
        card = ModelCard.for_backbone(
            backbone.value, **{k: v for k, v in chosen.items() if v is not None}
        )
        require_torch("deepverify model init")
        import torch

        from deepverify.model import build_model, save_checkpoint

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


@app.command("fit-decision")
def fit_decision(
    checkpoint: Annotated[Path, typer.Argument(help="Model (.onnx or .safetensors, card beside).")],
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The training config: caches and split.")
    ],
    precision: Annotated[
        float, typer.Option(min=0.5, max=1.0, help="Precision of each decisive verdict on calib.")
    ] = 0.9,
    train_reals: Annotated[
        int, typer.Option(min=1, help="Training-split real videos for the OOD statistics.")
    ] = 120,
    aggregation: Annotated[
        str | None,
        typer.Option(
            help="Video-score rule (max, largest, largest_frames) instead of the best on val."
        ),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config field: section.key=value (repeatable)."),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Fit the uncertain band, video-score rule and OOD gate on the model's own splits.

    Scores the validation, calibration and (some) training-split videos named by the config's
    caches through the scan pipeline, then writes the policy into the model card.
    """
    setup_logging(verbose)
    with user_errors():
        import numpy as np

        from deepverify.decision import AGGREGATIONS
        from deepverify.engine import load_engine
        from deepverify.faces import create_detector
        from deepverify.training.config import load_config
        from deepverify.training.decision_fit import collect_evidence, fit_policy, write_policy
        from deepverify.training.split_tracks import split_videos

        if aggregation is not None and aggregation not in AGGREGATIONS:
            fail(f"--aggregation must be one of {', '.join(AGGREGATIONS)}, not {aggregation!r}")
        cfg = load_config(config, list(overrides or []))
        if cfg.data.cache is None or not cfg.data.calib_fraction:
            fail(f"{config} needs data.cache and a calibration split (data.calib_fraction > 0)")
        splits, fingerprint = split_videos([cfg.data.cache, *cfg.data.extra_caches], cfg.data)
        engine = load_engine(checkpoint)
        recorded = engine.card.training_data.get("split_groups_sha256")
        if recorded is not None and recorded != fingerprint:
            fail(
                f"{checkpoint} was trained on another split than {config} makes: its calibration "
                "split could hold the model's training videos; use the model's own config"
            )
        reals = [item for item in splits["train"] if item.label == 0]
        rng = np.random.default_rng(cfg.data.split_seed)
        if len(reals) > train_reals:
            reals = [reals[i] for i in sorted(rng.choice(len(reals), train_reals, replace=False))]
        detector = create_detector(engine.card.detector)
        evidence = {}
        with err_console.status("scoring…") as status:
            for split, items in (("val", splits["val"]), ("calib", splits["calib"]),
                                 ("train reals", reals)):  # fmt: skip
                evidence[split] = collect_evidence(
                    items, split=split, model=engine, detector=detector,
                    progress=lambda name, done, total: status.update(f"{name} {done}/{total}"),
                )  # fmt: skip
        policy = fit_policy(
            val=evidence["val"], calib=evidence["calib"], train_real=evidence["train reals"],
            threshold=engine.card.threshold, target_precision=precision,
            aggregation=aggregation,
        )  # fmt: skip
        card = write_policy(checkpoint, policy)
    assert policy.band is not None
    stats = policy.fitted["calib"]
    console.print(
        f"rule {policy.aggregation} (val AUC {policy.fitted['aggregation_val_auc']}); "
        f"band {policy.band[0]:.3f}-{policy.band[1]:.3f} at precision {precision:g}; "
        f"calib: {stats}",
        highlight=False,
    )
    console.print(card_table(card, checkpoint))
