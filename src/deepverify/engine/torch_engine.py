"""The PyTorch engine (``train`` extra): runs the ``.safetensors`` checkpoint directly.

Same interface and outputs as the ONNX engine; useful on CUDA and to check an exported graph.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from deepverify.engine.base import CropScores, check_crops, check_features
from deepverify.engine.devices import check_device
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

        check_device(device, self.name)
        if threads is not None:
            torch.set_num_threads(threads)
        self.network, self.card = load_checkpoint(path, device=device)
        self.device = torch.device(device)
        self.cam_weights: np.ndarray = (
            self.network.frame_head.weight.detach()[0].float().cpu().numpy()
        )
        logger.info("PyTorch model %s on %s", self.card.model_id, device)

    def score_crops(self, crops: np.ndarray) -> CropScores:
        """Score normalised crops ``(N, 3, S, S)``, each on its own."""
        import torch

        check_crops(crops, self.card)
        batch = torch.from_numpy(np.ascontiguousarray(crops, dtype=np.float32)).to(self.device)
        with torch.inference_mode():
            maps = self.network.feature_maps(batch)  # in chunks, like the ONNX engine
            features = maps.mean(dim=(2, 3))
            logits = self.network.score_frames(features)
        return CropScores(
            frame_logits=logits.float().cpu().numpy(),
            features=features.float().cpu().numpy(),
            feature_maps=maps.float().cpu().numpy(),
        )

    def score_sequence(self, features: np.ndarray) -> float:
        """The video logit of one track from its crops' features ``(T, F)``."""
        import torch

        check_features(features, self.cam_weights)
        track = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
        with torch.inference_mode():
            return float(self.network.score_sequences(track.to(self.device).unsqueeze(0))[0])
