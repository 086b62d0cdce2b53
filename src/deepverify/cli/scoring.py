"""What the commands that score videos share: ``--detector`` and loading the model.

Apart from :mod:`deepverify.cli.options` because ``--detector``'s choices come from the face
detector registry, which imports NumPy: only ``scan``, ``evaluate`` and ``live`` pay for it.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deepverify.cli.common import warn
from deepverify.cli.options import EngineName, engine_name
from deepverify.defaults import DEFAULT_ENGINE
from deepverify.faces import available_detectors

if TYPE_CHECKING:
    from deepverify.engine import Engine

# The choices of --detector, from its registry.
DetectorName = Enum("DetectorName", {name: name for name in available_detectors()}, type=str)  # type: ignore[misc]

DetectorOption = Annotated[
    DetectorName | None,
    typer.Option(help="Face detector (default: the one the model was trained with)."),
]


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
    from deepverify.engine import load_engine
    from deepverify.pipeline import UNTRAINED_WARNING

    loaded = load_engine(model, engine=engine_name(engine) or DEFAULT_ENGINE, device=device)
    if not loaded.card.trained:
        warn(UNTRAINED_WARNING)
    chosen = detector_name(detector) or loaded.card.detector
    mismatch = loaded.card.detector_warning(chosen)
    if mismatch:
        warn(mismatch)
    return loaded, chosen
