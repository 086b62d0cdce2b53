"""Option types the CLI commands share: one name, one help text and one set of checks each.

A command declares ``model: ModelOption = None`` and gets the same flag, help and validation as
every other command taking a model. Choices come from the registries (engines, face detectors)
without importing either engine.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from deepverify.defaults import MAX_FRAMES
from deepverify.engine import ENGINES, Engine
from deepverify.faces import available_detectors

# The choices of --engine and --detector, from their registries.
EngineName = Enum("EngineName", {name: name for name in ENGINES}, type=str)  # type: ignore[misc]
DetectorName = Enum("DetectorName", {name: name for name in available_detectors()}, type=str)  # type: ignore[misc]

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
DetectorOption = Annotated[
    DetectorName | None,
    typer.Option(help="Face detector (default: the one the model was trained with)."),
]
FramesOption = Annotated[
    int | None,
    typer.Option(min=1, max=MAX_FRAMES, help="Frames sampled per video (default: the model's)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")]


def engine_name(engine: EngineName | None) -> str | None:
    """The engine's registry name, or None for the default (or the environment's)."""
    return None if engine is None else str(engine.value)


def detector_name(detector: DetectorName | None) -> str | None:
    """The detector's registry name, or None for the model card's."""
    return None if detector is None else str(detector.value)


def load_for_scoring(
    model: Path | None, *, engine: EngineName | None, device: str, detector: DetectorName | None
) -> tuple[Engine, str]:
    """The model to score with and its detector's name, warning when either is unfit.

    Shared by ``scan``, ``live`` and ``evaluate``: an untrained model, or a detector other than
    the one the model was trained with, is said once on stderr.
    """
    from deepverify.cli.common import warn
    from deepverify.engine import DEFAULT_ENGINE, load_engine
    from deepverify.pipeline import UNTRAINED_WARNING

    loaded = load_engine(model, engine=engine_name(engine) or DEFAULT_ENGINE, device=device)
    if not loaded.card.trained:
        warn(UNTRAINED_WARNING)
    chosen = detector_name(detector) or loaded.card.detector
    mismatch = loaded.card.detector_warning(chosen)
    if mismatch:
        warn(mismatch)
    return loaded, chosen
