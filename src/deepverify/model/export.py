"""Export a checkpoint to an ONNX graph for the ONNX Runtime engine (needs the train extra).

``export_onnx(Path("m.safetensors"))`` writes ``m.onnx`` (see :mod:`deepverify.model.graph` for
its interface) and records the graph's sha256 in the card; with ``out`` elsewhere it writes
``out.onnx`` and a copy of the card beside it, so the pair travels together.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from deepverify.errors import ModelError
from deepverify.files import atomic_target, sha256_file
from deepverify.model import graph
from deepverify.model.card import ModelCard
from deepverify.model.checkpoint import load_checkpoint
from deepverify.model.files import ONNX_SUFFIX, card_path, onnx_path
from deepverify.model.network import DeepfakeDetector

logger = logging.getLogger(__name__)


class TrackGraph(nn.Module):
    """The detector as the graph sees it (see :mod:`deepverify.model.graph`).

    Crops and one track's features in, the five outputs out.
    """

    def __init__(self, detector: DeepfakeDetector) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, crops: Tensor, track_features: Tensor) -> tuple[Tensor, ...]:
        """Frame logits, pooled features, feature maps, CAM weights and the track's video logit."""
        maps = self.detector.feature_maps(crops, chunked=False)
        pooled = maps.mean(dim=(2, 3))  # the same pooling as the detector's forward
        frame_logits = self.detector.score_frames(pooled)
        video_logit = self.detector.score_sequences(track_features.unsqueeze(0))
        # "* 1.0": an op, so the weights leave the graph as a named output, not an initializer.
        weights = self.detector.frame_head.weight[0] * 1.0
        return frame_logits, pooled, maps, weights, video_logit


def export_onnx(checkpoint: Path, out: Path | None = None) -> tuple[Path, ModelCard]:
    """Write the ONNX graph of a checkpoint and the card that records its sha256.

    Args:
        checkpoint: the ``.safetensors`` file (its card beside it).
        out: the ``.onnx`` to write; default beside the checkpoint.

    Returns:
        The graph's path and the card written beside it.

    Raises:
        ModelError: unreadable checkpoint, or ``out`` not ending in ``.onnx``.
    """
    model, card = load_checkpoint(checkpoint)
    out = onnx_path(checkpoint) if out is None else Path(out)
    if out.suffix != ONNX_SUFFIX:
        raise ModelError(f"--out {out} must end in {ONNX_SUFFIX} (the card is written beside it)")
    model = model.to(memory_format=torch.contiguous_format).eval()
    size = card.input_size
    features = model.frame_head.in_features
    # Different sizes for the two dynamic axes, so that tracing cannot tie them together.
    example = (torch.zeros(2, 3, size, size), torch.zeros(3, features))
    with atomic_target(out) as tmp, torch.no_grad(), warnings.catch_warnings():
        # The TorchScript-based exporter: seconds instead of minutes, and it handles the LSTM.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            TrackGraph(model).eval(),
            example,
            str(tmp),
            input_names=list(graph.INPUTS),
            output_names=list(graph.OUTPUTS),
            dynamic_axes={
                graph.CROPS: {0: "crops"},
                graph.TRACK_FEATURES: {0: "steps"},
                graph.FRAME_LOGITS: {0: "crops"},
                graph.CROP_FEATURES: {0: "crops"},
                graph.FEATURE_MAPS: {0: "crops"},
            },
            opset_version=graph.OPSET,
            dynamo=False,
        )
        _name_outputs(tmp)
        sha = sha256_file(tmp)
        exported = card.replace(onnx_sha256=sha)
        with atomic_target(card_path(out)) as card_tmp:
            card_tmp.write_text(exported.to_json(), encoding="utf-8")
    logger.info("exported %s -> %s (sha256 %s)", checkpoint, out, sha[:12])
    return out, exported


def _name_outputs(path: Path) -> None:
    """Give every output its interface name (the exporter renames constant-folded ones)."""
    import onnx

    proto = onnx.load(str(path))
    outputs = proto.graph.output
    renames = {o.name: name for o, name in zip(outputs, graph.OUTPUTS, strict=True)}
    for node in proto.graph.node:
        node.output[:] = [renames.get(name, name) for name in node.output]
    for init in proto.graph.initializer:
        init.name = renames.get(init.name, init.name)
    for output, name in zip(outputs, graph.OUTPUTS, strict=True):
        output.name = name
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
