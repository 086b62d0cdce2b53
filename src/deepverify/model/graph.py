"""The exported graph's interface.

Face crops in, their logits and features out; a track's features in, its logit out.

The graph has two independent parts, run together on every call (ONNX Runtime runs every node):

- the **crop part** scores any number of crops on their own: the pipeline scores each frame's
  faces as soon as they are found, a few at a time, so activation memory stays small;
- the **sequence part** (LSTM and video head) reads one track's pooled crop features in time
  order, once the tracks are known.

A caller needing only one part gives the other a token input: zero crops, or one zero feature
vector (both cost next to nothing).

Inputs:
    ``crops``: ``(N, 3, S, S)`` float32 normalised crops, ``N >= 0`` dynamic.
    ``track_features``: ``(T, F)`` float32 pooled features of one track's crops in time order
    (``crop_features`` rows), ``T >= 1`` dynamic.

Outputs:
    ``frame_logits`` ``(N,)``, ``crop_features`` ``(N, F)``, ``feature_maps`` ``(N, F, h, w)``,
    ``cam_weights`` ``(F,)`` (the frame head's weights, so heatmaps need nothing but the graph)
    and ``video_logit`` ``(1,)`` from ``track_features``.
"""

from __future__ import annotations

CROPS = "crops"
TRACK_FEATURES = "track_features"
INPUTS = (CROPS, TRACK_FEATURES)
FRAME_LOGITS = "frame_logits"
CROP_FEATURES = "crop_features"
FEATURE_MAPS = "feature_maps"
CAM_WEIGHTS = "cam_weights"
VIDEO_LOGIT = "video_logit"
OUTPUTS = (FRAME_LOGITS, CROP_FEATURES, FEATURE_MAPS, CAM_WEIGHTS, VIDEO_LOGIT)
OPSET = 17
