"""Checkpoints: ``x.safetensors`` (weights) + ``x.json`` (model card) side by side.

The card records the sha256 of the weights file; loading verifies it and that the tensors match
the architecture the card describes, so a corrupt, truncated or mismatched pair is a clear
:class:`~deepverify.errors.ModelError` instead of a half-initialised network.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from deepverify.errors import ModelError
from deepverify.files import atomic_target, atomic_write_text, sha256_file
from deepverify.model.card import ModelCard
from deepverify.model.files import CARD_SUFFIX, ONNX_SUFFIX, WEIGHTS_SUFFIX, card_path
from deepverify.model.imagenet import check_state, load_state_strict
from deepverify.model.network import DeepfakeDetector, build_model

logger = logging.getLogger(__name__)


def save_checkpoint(model: DeepfakeDetector, card: ModelCard, path: Path) -> ModelCard:
    """Write the weights to ``path`` and the completed card beside it, each atomically.

    Args:
        model: the detector; must match ``card``'s architecture.
        card: its description; ``weights_sha256``, ``model_id`` and ``created`` (now) are
            filled in here.
        path: weights file, must end in ``.safetensors``.

    Returns:
        The card as written.

    Raises:
        ModelError: ``path`` has the wrong suffix, or the model does not match the card.
    """
    path = Path(path)
    if path.suffix != WEIGHTS_SUFFIX:
        raise ModelError(f"checkpoint path {path} must end in {WEIGHTS_SUFFIX}")
    if model.backbone_name != card.backbone:
        raise ModelError(f"model has backbone {model.backbone_name}, card says {card.backbone}")
    # Check the tensors fit the card now rather than when someone later tries to load them
    # (the reference is built on the meta device: shapes only, no memory, no init cost).
    with torch.device("meta"):
        reference = build_model(card, pretrained=False).state_dict()
    state = _state_of(model)
    with _mismatch_hint():
        check_state(reference, state, f"model for {path}")
    with atomic_target(path) as tmp:
        tmp.touch()  # created with the user's umask; safetensors itself writes mode 0600
        mode = tmp.stat().st_mode & 0o777
        save_file(state, str(tmp), metadata={"format": "pt"})
        tmp.chmod(mode)
        sha = sha256_file(tmp)
        completed = card.replace(
            weights_sha256=sha,
            model_id=f"{card.backbone}-{sha[:12]}",
            onnx_sha256="",  # any exported graph belongs to the previous weights
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        atomic_write_text(card_path(path), completed.to_json())
    logger.info("saved checkpoint %s (%s)", path, completed.model_id)
    return completed


def load_checkpoint(path: Path, *, device: str = "cpu") -> tuple[DeepfakeDetector, ModelCard]:
    """Load a checkpoint written by :func:`save_checkpoint`, verified, in eval mode.

    Args:
        path: the ``.safetensors`` file (its ``.json`` card must sit beside it).
        device: torch device to put the model on.

    Raises:
        ModelError: missing file or card, sha256 mismatch, corrupt file, or tensors that do
            not match the card's architecture.
    """
    path = Path(path)
    if path.suffix in (CARD_SUFFIX, ONNX_SUFFIX):
        path = path.with_suffix(WEIGHTS_SUFFIX)
    if not path.is_file():
        raise ModelError(f"checkpoint {path} not found; pass a .safetensors file")
    card = ModelCard.read(card_path(path))
    sha = sha256_file(path)
    if sha != card.weights_sha256:
        raise ModelError(
            f"checkpoint {path} does not match its card (sha256 {sha[:12]} != "
            f"{card.short_sha or 'none'}); the file is corrupt or belongs to another card"
        )
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"checkpoint {path} is not a readable safetensors file: {exc}") from None
    model = build_model(card, pretrained=False)
    with _mismatch_hint():
        load_state_strict(model, state, f"weights in {path}")
    return model.to(device).eval(), card


def _state_of(model: DeepfakeDetector) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}


@contextmanager
def _mismatch_hint() -> Iterator[None]:
    """Add the likely cause to a key/shape mismatch error."""
    try:
        yield
    except ModelError as exc:
        raise ModelError(f"{exc}; was it saved for another backbone or card?") from None
