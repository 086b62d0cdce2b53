"""The detector: a CNN per face crop, a per-crop "frame" head, and an LSTM over each track.

``clips`` of shape ``(B, T, 3, S, S)`` are B face tracks of T crops each. The backbone turns every
crop into its last feature map, globally average-pooled into a feature vector; a linear head
scores each crop on its own (``frame_logits``, the timeline and the heatmaps' target), and an
LSTM with ``batch_first=True`` reads each track's ``(T, F)`` feature sequence. The video logit is
a linear head on the **mean of the LSTM outputs over time**: every step's output has seen the
prefix so far, so the score depends on order (it models time) while not hinging on the last crop
alone, and works for any ``T``.

The forward pass also returns the last feature maps: the frame head is linear on their spatial
mean, so its class activation map ``relu(sum_k w_k A_k)`` (see :mod:`deepverify.explain`) is the
heatmap Grad-CAM would compute, with no second pass and no gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from deepverify.defaults import CROP_CHUNK
from deepverify.model.backbones import get_backbone
from deepverify.model.card import ModelCard
from deepverify.model.padding import static_same_padding

DEFAULT_DROPOUT = 0.5


@dataclass
class DetectorOutput:
    """Logits of "fake" (before temperature scaling).

    Attributes:
        video_logits: ``(B,)`` one per track, from the LSTM over its T crops.
        frame_logits: ``(B, T)`` one per crop, from the per-crop head.
        feature_maps: ``(B, T, F, h, w)`` the backbone's last feature map per crop; its spatial
            mean is what both heads read.
    """

    video_logits: Tensor
    frame_logits: Tensor
    feature_maps: Tensor


class DeepfakeDetector(nn.Module):
    """CNN backbone per crop + per-crop head + LSTM over time.

    Args:
        backbone_name: registry name of the backbone.
        backbone: module mapping ``(N, 3, S, S)`` crops to ``(N, feature_dim)`` features.
        feature_dim: size of the backbone's features.
        lstm_hidden: LSTM hidden size.
        lstm_layers: stacked LSTM layers.
        dropout: dropout probability before both heads (training only).
    """

    def __init__(
        self,
        *,
        backbone_name: str,
        backbone: nn.Module,
        feature_dim: int,
        lstm_hidden: int,
        lstm_layers: int = 1,
        dropout: float = DEFAULT_DROPOUT,
    ) -> None:
        super().__init__()
        self.backbone_name = backbone_name
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.frame_head = nn.Linear(feature_dim, 1)
        self.lstm = nn.LSTM(
            input_size=feature_dim,
            hidden_size=lstm_hidden,
            num_layers=lstm_layers,
            batch_first=True,  # input is (B, T, F): the LSTM must step over T, not over B
        )
        self.video_head = nn.Linear(lstm_hidden, 1)

    def feature_maps(self, crops: Tensor, *, chunked: bool = True) -> Tensor:
        """Last backbone feature maps, ``(N, 3, S, S)`` -> ``(N, F, h, w)`` (any memory layout).

        Without gradients (inference) and with ``chunked``, the crops go through in chunks of
        :data:`~deepverify.defaults.CROP_CHUNK`: nothing has to be kept between chunks, so
        activation memory stays bounded. (Graph export passes ``chunked=False``: N is symbolic
        there.)
        """
        spec = get_backbone(self.backbone_name)
        crops = crops.contiguous(memory_format=torch.channels_last)
        if not chunked or torch.is_grad_enabled() or len(crops) <= CROP_CHUNK:
            return spec.feature_map(self.backbone, crops)
        return torch.cat(
            [spec.feature_map(self.backbone, chunk) for chunk in torch.split(crops, CROP_CHUNK)]
        )

    def features(self, crops: Tensor) -> Tensor:
        """Pooled backbone features, ``(N, 3, S, S)`` -> ``(N, F)``: the maps' spatial mean."""
        return self.feature_maps(crops).mean(dim=(2, 3))

    def score_frames(self, features: Tensor) -> Tensor:
        """Per-crop logits from pooled features, ``(N, F)`` -> ``(N,)``."""
        logits: Tensor = self.frame_head(self.dropout(features))
        return logits.squeeze(-1)

    def score_sequences(self, features: Tensor) -> Tensor:
        """Per-track logits from pooled feature sequences, ``(B, T, F)`` -> ``(B,)``."""
        sequence, _ = self.lstm(features)  # (B, T, H)
        logits: Tensor = self.video_head(self.dropout(sequence.mean(dim=1)))
        return logits.squeeze(-1)

    def forward(self, clips: Tensor, *, chunked: bool = True) -> DetectorOutput:
        """Score ``clips`` of shape ``(B, T, 3, S, S)`` (normalised crops)."""
        if clips.ndim != 5:
            raise ValueError(f"clips must be (B, T, 3, S, S), got shape {tuple(clips.shape)}")
        batch, steps = clips.shape[:2]
        # One batched backbone pass over all B*T crops.
        maps = self.feature_maps(clips.flatten(0, 1), chunked=chunked)
        features = maps.mean(dim=(2, 3))  # the global average pool
        frame_logits = self.score_frames(features).view(batch, steps)
        video_logits = self.score_sequences(features.view(batch, steps, -1))
        return DetectorOutput(
            video_logits=video_logits,
            frame_logits=frame_logits,
            feature_maps=maps.view(batch, steps, *maps.shape[1:]),
        )


def build_model(
    card: ModelCard, *, pretrained: bool, dropout: float = DEFAULT_DROPOUT
) -> DeepfakeDetector:
    """Build the detector ``card`` describes, in eval mode.

    Args:
        card: architecture (backbone, LSTM sizes); weights fields are ignored here.
        pretrained: initialise the backbone with ImageNet weights (heads stay random).
        dropout: dropout probability before the heads.

    Raises:
        ModelError: unknown backbone, or ImageNet weights unavailable/mismatched.
    """
    spec = get_backbone(card.backbone)
    backbone = spec.create(pretrained)
    static_same_padding(backbone, card.input_size)  # crops are always the card's size
    model = DeepfakeDetector(
        backbone_name=spec.name,
        backbone=backbone,
        feature_dim=spec.feature_dim,
        lstm_hidden=card.lstm_hidden,
        lstm_layers=card.lstm_layers,
        dropout=dropout,
    )
    # channels_last: oneDNN's convolutions (depthwise ones especially) run ~1.7x faster on CPU.
    return model.to(memory_format=torch.channels_last).eval()
