"""Option types the CLI commands share: one name, one help text and one set of checks each.

A command declares ``model: ModelOption = None`` and gets the same flag, help and validation as
every other command taking a model. Importing this module costs no more than Typer: the engine
names come from :mod:`deepverify.defaults`, and ``--detector`` (whose choices need the detector
registry) lives in :mod:`deepverify.cli.scoring`.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from deepverify.defaults import ENGINES, MAX_FRAMES

# The choices of --engine, from the engine registry's names.
EngineName = Enum("EngineName", {name: name for name in ENGINES}, type=str)  # type: ignore[misc]

ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model",
        "-m",
        help="Model .onnx, .safetensors or .json (card); default: the packaged one "
        "(serve: env DEEPVERIFY_MODEL_PATH).",
    ),
]
EngineOption = Annotated[
    EngineName | None,
    typer.Option(
        help="Inference engine: onnx (ONNX Runtime, base install) or torch (train extra); "
        "default onnx (serve, worker: env DEEPVERIFY_ENGINE)."
    ),
]
DeviceOption = Annotated[str, typer.Option(help="cpu, or cuda / cuda:N with --engine torch.")]
FramesOption = Annotated[
    int | None,
    typer.Option(min=1, max=MAX_FRAMES, help="Frames sampled per video (default: the model's)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")]


def engine_name(engine: EngineName | None) -> str | None:
    """The engine's registry name, or None for the default (or the environment's)."""
    return None if engine is None else str(engine.value)
