"""The ONNX Runtime engine: the base install's way to run a detector (no PyTorch).

The graph (``x.onnx``, written by ``deepverify model export``) is checked against its card
(``x.json``) before a session is built: its sha256 must be the one the card records, and its
input must take the card's crop size. Any failure is one :class:`~deepverify.errors.ModelError`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from deepverify.engine import graph
from deepverify.engine.base import TrackScores, check_crops
from deepverify.errors import ModelError
from deepverify.files import sha256_file
from deepverify.model.card import ModelCard

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
                f"{path.with_suffix('.safetensors')}` (needs the train extra)"
            )
        if not card.onnx_sha256:
            raise ModelError(
                f"model card {path.with_suffix('.json')} records no ONNX graph; re-run "
                f"`deepverify model export {path.with_suffix('.safetensors')}`"
            )
        sha = sha256_file(path)
        if sha != card.onnx_sha256:
            raise ModelError(
                f"ONNX graph {path} does not match its card (sha256 {sha[:12]} != "
                f"{card.onnx_sha256[:12]}); the file is corrupt or belongs to another card"
            )
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: its warnings are not the user's business
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own (untyped) errors for bad graphs
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"ONNX graph {path} cannot be loaded: {first}") from None
        self._check_signature(path, card)
        self.card = card
        blank = np.zeros((1, 3, card.input_size, card.input_size), np.float32)
        self.cam_weights = self._run(blank)[3]  # a constant of the graph
        logger.info("ONNX Runtime session for %s (%s)", path, card.model_id)

    def _check_signature(self, path: Path, card: ModelCard) -> None:
        inputs = self._session.get_inputs()
        outputs = [o.name for o in self._session.get_outputs()]
        if len(inputs) != 1 or inputs[0].name != graph.INPUT or tuple(outputs) != graph.OUTPUTS:
            raise ModelError(
                f"ONNX graph {path} is not a deepverify detector graph (inputs "
                f"{[i.name for i in inputs]}, outputs {outputs}); re-export it"
            )
        shape = inputs[0].shape
        expected = [3, card.input_size, card.input_size]
        if list(shape[1:]) != expected:
            raise ModelError(
                f"ONNX graph {path} takes crops of shape {shape[1:]}, its card says "
                f"{expected}; the graph belongs to another card"
            )

    def _run(self, crops: np.ndarray) -> list[np.ndarray]:
        outputs: list[np.ndarray] = self._session.run(list(graph.OUTPUTS), {graph.INPUT: crops})
        return outputs

    def score_track(self, crops: np.ndarray) -> TrackScores:
        """Score one track of normalised crops ``(T, 3, S, S)``."""
        check_crops(crops, self.card)
        frame_logits, video_logit, feature_maps, _ = self._run(
            np.ascontiguousarray(crops, dtype=np.float32)
        )
        return TrackScores(
            video_logit=float(video_logit.reshape(-1)[0]),
            frame_logits=frame_logits.reshape(-1),
            feature_maps=feature_maps,
        )
