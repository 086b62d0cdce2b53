"""Defaults and accepted formats shared by the core, the CLI, training and the service.

Dependency-free on purpose: the CLI's option defaults, the service settings and the API's config
endpoint read these without importing OpenCV, PyAV or torch.
"""

from __future__ import annotations

DEFAULT_DETECTOR = "opencv-ssd"
"""Face detector used when none is named (a key of :func:`deepverify.faces.available_detectors`)."""

ENGINES: tuple[str, ...] = ("onnx", "torch")
"""Inference engines :func:`deepverify.engine.load_engine` accepts: ONNX Runtime (base install)
and PyTorch (the train extra)."""

DEFAULT_ENGINE = "onnx"
"""Engine used when none is named (the CLI's ``--engine``, the service's ``DEEPVERIFY_ENGINE``)."""

DEFAULT_EXTRACT_DETECTOR = "yunet"
"""Detector ``deepverify extract`` cuts training crops with: the packaged model's (its card names
it, so ``scan`` follows), and the one ``configs/default.yaml``'s caches come from."""

DEFAULT_NUM_FRAMES = 32
"""Frames sampled per video, and the LSTM sequence length of a new model card."""

MAX_FRAMES = 512
"""The most frames a command samples per video (``--frames`` of scan, evaluate, extract and
``model init``)."""

DEFAULT_EXTRACT_LANDMARKS = "yunet"
"""Where ``deepverify extract`` takes the landmarks of self-blending masks from by default."""

EXTRACT_MARGIN = 0.5
"""Crop margin of a face-crop cache, wider than any model's ``crop_margin``."""

EXTRACT_SIZE = 280
"""Side of a cache's crops: 280 keeps a 224 crop at margin 0.3 at native scale when the cache
margin is 0.5 (224 * 2.0 / 1.6)."""

MAX_FACES_PER_FRAME = 16
"""Most faces judged in one frame: the largest, when a crowd holds more. Every face costs the
network about 11 ms and its heatmap's memory: a 1080p clip of 72 faces a frame took 27 s and
peaked at 1.3 GB without a bound. Faces under half the largest in view do not decide a video
anyway (the ``largest_frames`` rule)."""

CROP_CHUNK = 8
"""Most face crops the backbone runs at once at inference, in either engine (bounds activation
memory; crops come a few at a time as frames are decoded)."""

VIDEO_SUFFIXES: tuple[str, ...] = (
    ".mp4", ".m4v", ".mov", ".webm", ".avi", ".mkv", ".gif", ".mpg", ".mpeg", ".wmv", ".flv",
    ".3gp", ".ts", ".mts",
)  # fmt: skip
"""File suffixes (lower case) taken for videos: by ``scan`` and the dataset loaders when they
walk a folder, and by the web UI (which reads them from ``/api/auth/config``) before an upload.
What a file *is* is decided by decoding it; the suffix only picks candidates."""
