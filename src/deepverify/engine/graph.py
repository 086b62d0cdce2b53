"""The exported graph's interface: one face track in, its logits and feature maps out.

Inputs:
    ``crops``: ``(T, 3, S, S)`` float32 normalised crops of one track, ``T`` dynamic (the LSTM
    reads them in this order; one track per run).

Outputs:
    ``frame_logits`` ``(T,)``, ``video_logit`` ``(1,)``, ``feature_maps`` ``(T, F, h, w)`` and
    ``cam_weights`` ``(F,)`` (the frame head's weights, so heatmaps need nothing but the graph).
"""

from __future__ import annotations

INPUT = "crops"
FRAME_LOGITS = "frame_logits"
VIDEO_LOGIT = "video_logit"
FEATURE_MAPS = "feature_maps"
CAM_WEIGHTS = "cam_weights"
OUTPUTS = (FRAME_LOGITS, VIDEO_LOGIT, FEATURE_MAPS, CAM_WEIGHTS)
OPSET = 17
