"""Inference engines behind one interface: ONNX Runtime (default, base install) or PyTorch.

``load_engine(path, engine="onnx")`` takes any file of a model (``x.json``, ``x.onnx`` or
``x.safetensors``; None for the packaged default), reads the card beside it and returns an
:class:`Engine`: :meth:`~Engine.score_crops` gives crops' logits, features and feature maps,
:meth:`~Engine.score_sequence` a track's logit from its features.
"""

from __future__ import annotations

from pathlib import Path

from deepverify.defaults import DEFAULT_ENGINE, ENGINES
from deepverify.engine.base import CropScores, Engine
from deepverify.engine.devices import check_device
from deepverify.errors import ModelError
from deepverify.model.card import ModelCard
from deepverify.model.files import (
    MODEL_SUFFIXES,
    card_path,
    onnx_path,
    require_default_model,
    safetensors_path,
)


def load_engine(
    path: Path | None = None,
    *,
    engine: str = DEFAULT_ENGINE,
    device: str = "cpu",
    threads: int | None = None,
) -> Engine:
    """Load a model for inference, verified against its card.

    Args:
        path: any of the model's files (card, graph or checkpoint); None for the packaged
            default model.
        engine: ``"onnx"`` (ONNX Runtime, CPU) or ``"torch"`` (needs the train extra).
        device: ``cpu``, or ``cuda[:N]`` with the torch engine.
        threads: CPU threads for inference (None: the engine's default).

    Raises:
        ModelError: no such model, a card/weights mismatch, an unknown engine or device.
        MissingExtraError: ``engine="torch"`` (or a GPU) without PyTorch installed.
    """
    if engine not in ENGINES:
        raise ModelError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
    path = require_default_model() if path is None else Path(path)
    suffixes = ", ".join(MODEL_SUFFIXES)
    if not path.is_file():
        raise ModelError(f"model {path} not found; pass one of its files ({suffixes})")
    if path.suffix not in MODEL_SUFFIXES:
        raise ModelError(f"model {path} must be one of a model's files ({suffixes})")
    check_device(device, engine)
    if engine == "torch":
        from deepverify.engine.torch_engine import TorchEngine

        return TorchEngine(safetensors_path(path), device=device, threads=threads)
    from deepverify.engine.onnx_engine import OnnxEngine

    card = ModelCard.read(card_path(path))
    return OnnxEngine(onnx_path(path), card, threads=threads)


__all__ = [
    "DEFAULT_ENGINE",
    "ENGINES",
    "CropScores",
    "Engine",
    "check_device",
    "load_engine",
]
