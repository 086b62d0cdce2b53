"""The ONNX Runtime engine: the base install's way to run a detector (no PyTorch).

The graph (``x.onnx``, written by ``deepverify model export``) is checked against its card
(``x.json``) before a session is built: its sha256 must be the one the card records, and its
input must take the card's crop size. Any failure is one :class:`~deepverify.errors.ModelError`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from deepverify.defaults import CROP_CHUNK
from deepverify.engine.base import CropScores, check_crops, check_features
from deepverify.errors import ModelError
from deepverify.files import sha256_file
from deepverify.model import graph
from deepverify.model.card import ModelCard
from deepverify.model.files import card_path, safetensors_path
from deepverify.onnx_session import SessionError, cpu_session

logger = logging.getLogger(__name__)


class OnnxEngine:
    """A detector graph in an ONNX Runtime CPU session (see :class:`~deepverify.engine.Engine`).

    Args:
        path: the ``.onnx`` graph.
        card: its model card (read from beside it).
        threads: intra-op threads (None: ONNX Runtime's choice, one per core).

    Raises:
        ModelError: missing, corrupt or mismatched graph.
    """

    name = "onnx"

    def __init__(self, path: Path, card: ModelCard, *, threads: int | None = None) -> None:
        if not path.is_file():
            raise ModelError(
                f"ONNX graph {path} not found; create it with `deepverify model export "
                f"{safetensors_path(path)}` (needs the train extra)"
            )
        if not card.onnx_sha256:
            raise ModelError(
                f"model card {card_path(path)} records no ONNX graph; re-run "
                f"`deepverify model export {safetensors_path(path)}`"
            )
        sha = sha256_file(path)
        if sha != card.onnx_sha256:
            raise ModelError(
                f"ONNX graph {path} does not match its card (sha256 {sha[:12]} != "
                f"{card.onnx_sha256[:12]}); the file is corrupt or belongs to another card"
            )
        try:
            # Crops come a few at a time, in varying numbers: reused memory would only keep the
            # largest run's activations allocated after it.
            self._session = cpu_session(path, threads=threads, reuse_memory=False)
        except SessionError as exc:
            raise ModelError(f"ONNX graph {path} cannot be loaded: {exc}") from None
        features = self._check_signature(path, card)
        self.card = card
        self._no_crops = np.zeros((0, 3, card.input_size, card.input_size), np.float32)
        self._no_track = np.zeros((1, features), np.float32)
        self.cam_weights: np.ndarray = self._run(self._no_crops, self._no_track)[3]
        logger.info("ONNX Runtime session for %s (%s)", path, card.model_id)

    def _check_signature(self, path: Path, card: ModelCard) -> int:
        """Refuse a graph that is not this interface for the card's crops; its feature size."""
        inputs = self._session.get_inputs()
        names = tuple(i.name for i in inputs)
        outputs = tuple(o.name for o in self._session.get_outputs())
        if names != graph.INPUTS or outputs != graph.OUTPUTS:
            raise ModelError(
                f"ONNX graph {path} is not a deepverify detector graph of this version (inputs "
                f"{list(names)}, outputs {list(outputs)}); re-export it with `deepverify model "
                f"export {safetensors_path(path)}`"
            )
        shape = inputs[0].shape
        expected = [3, card.input_size, card.input_size]
        if list(shape[1:]) != expected:
            raise ModelError(
                f"ONNX graph {path} takes crops of shape {shape[1:]}, its card says "
                f"{expected}; the graph belongs to another card"
            )
        features = inputs[1].shape[1]
        if not isinstance(features, int):
            raise ModelError(f"ONNX graph {path} has no fixed feature size; re-export it")
        return features

    def _run(self, crops: np.ndarray, track: np.ndarray) -> list[np.ndarray]:
        feeds = {graph.CROPS: crops, graph.TRACK_FEATURES: track}
        outputs: list[np.ndarray] = self._session.run(list(graph.OUTPUTS), feeds)
        return outputs

    def score_crops(self, crops: np.ndarray) -> CropScores:
        """Score normalised crops ``(N, 3, S, S)``, at most :data:`CROP_CHUNK` per run."""
        check_crops(crops, self.card)
        crops = np.ascontiguousarray(crops, dtype=np.float32)
        runs = [
            self._run(crops[start : start + CROP_CHUNK], self._no_track)
            for start in range(0, len(crops), CROP_CHUNK)
        ]
        return CropScores(
            frame_logits=np.concatenate([run[0] for run in runs]).reshape(-1),
            features=np.concatenate([run[1] for run in runs]),
            feature_maps=np.concatenate([run[2] for run in runs]),
        )

    def score_sequence(self, features: np.ndarray) -> float:
        """The video logit of one track from its crops' features ``(T, F)``."""
        check_features(features, self.cam_weights)
        track = np.ascontiguousarray(features, dtype=np.float32)
        return float(self._run(self._no_crops, track)[4].reshape(-1)[0])
