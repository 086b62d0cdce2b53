"""Where a model's files sit: ``x.json`` (card), ``x.safetensors`` (PyTorch), ``x.onnx`` (graph).

The three share a stem. The card describes both weight files and records each one's sha256;
whichever engine runs the model, it is given any of the three paths and finds the others here.
"""

from __future__ import annotations

from pathlib import Path

from deepverify.errors import ModelError

WEIGHTS_SUFFIX = ".safetensors"
CARD_SUFFIX = ".json"
ONNX_SUFFIX = ".onnx"
MODEL_SUFFIXES = (WEIGHTS_SUFFIX, ONNX_SUFFIX, CARD_SUFFIX)

# The packaged default model: weights/default.{json,onnx,safetensors} inside the package.
DEFAULT_STEM = Path(__file__).resolve().parents[1] / "weights" / "default"


def card_path(weights: Path) -> Path:
    """The card file that belongs to a weights file (``x.safetensors`` -> ``x.json``)."""
    return Path(weights).with_suffix(CARD_SUFFIX)


def onnx_path(weights: Path) -> Path:
    """The ONNX graph that belongs to a model file (``x.safetensors`` -> ``x.onnx``)."""
    return Path(weights).with_suffix(ONNX_SUFFIX)


def safetensors_path(weights: Path) -> Path:
    """The PyTorch weights that belong to a model file (``x.onnx`` -> ``x.safetensors``)."""
    return Path(weights).with_suffix(WEIGHTS_SUFFIX)


def default_model_path() -> Path | None:
    """The packaged default model's card, or None when no trained default is shipped."""
    path = DEFAULT_STEM.with_suffix(CARD_SUFFIX)
    return path if path.is_file() else None


def require_default_model() -> Path:
    """The packaged default model's card, for a command or service given no model.

    Raises:
        ModelError: No trained default is shipped (a source checkout without weights).
    """
    path = default_model_path()
    if path is None:
        raise ModelError(
            "no trained default model is installed; pass --model CKPT or set "
            "DEEPVERIFY_MODEL_PATH (an untrained one can be made with `deepverify model init`)"
        )
    return path
