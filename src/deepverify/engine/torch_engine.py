"""The PyTorch engine (``train`` extra): runs the ``.safetensors`` checkpoint directly.

Same interface and outputs as the ONNX engine; useful on CUDA and to check an exported graph.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from deepverify.engine.base import TrackScores, check_crops
from deepverify.errors import ModelError
from deepverify.extras import require_torch

logger = logging.getLogger(__name__)


class TorchEngine:
    """A checkpoint loaded into :class:`~deepverify.model.DeepfakeDetector`.

    Args:
        path: the ``.safetensors`` checkpoint (card beside it).
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        threads: torch CPU threads (None: leave torch's setting).

    Raises:
        MissingExtraError: PyTorch is not installed.
        ModelError: unreadable or mismatched checkpoint, or an unavailable device.
    """

    name = "torch"

    def __init__(self, path: Path, *, device: str = "cpu", threads: int | None = None) -> None:
        require_torch("--engine torch")
        import torch

        from deepverify.model.checkpoint import load_checkpoint

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelError(f"device {device!r} requested but CUDA is not available; use cpu")
        if device != "cpu" and not device.startswith("cuda"):
            raise ModelError(f"unknown device {device!r}; use 'cpu' or 'cuda'")
        if threads is not None:
            torch.set_num_threads(threads)
        self.network, self.card = load_checkpoint(path, device=device)
        self.device = torch.device(device)
        self.cam_weights: np.ndarray = (
            self.network.frame_head.weight.detach()[0].float().cpu().numpy()
        )
        logger.info("PyTorch model %s on %s", self.card.model_id, device)

    def score_track(self, crops: np.ndarray) -> TrackScores:
        """Score one track of normalised crops ``(T, 3, S, S)``."""
        import torch

        check_crops(crops, self.card)
        clip = torch.from_numpy(np.ascontiguousarray(crops, dtype=np.float32)).to(self.device)
        with torch.inference_mode():
            output = self.network(clip.unsqueeze(0))
        return TrackScores(
            video_logit=float(output.video_logits[0]),
            frame_logits=output.frame_logits[0].float().cpu().numpy(),
            feature_maps=output.feature_maps[0].float().cpu().numpy(),
        )
