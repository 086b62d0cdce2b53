"""The one way this package opens an ONNX Runtime session: the detector graph and YuNet's.

Both run on the CPU beside decoding and face detection, so both sessions are set up alike: only
errors are logged, and idle threads sleep instead of spinning (the other stages need the cores).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from deepverify.errors import one_line

if TYPE_CHECKING:
    import onnxruntime as ort

PROVIDERS = ["CPUExecutionProvider"]


class SessionError(ValueError):
    """ONNX Runtime refused a graph; the message is the first line of its reason."""


def cpu_session(
    path: Path, *, threads: int | None = None, reuse_memory: bool = True
) -> ort.InferenceSession:
    """An ONNX Runtime CPU session for the graph at ``path``.

    Args:
        path: The ``.onnx`` file.
        threads: Intra-op threads (None: ONNX Runtime's choice, one per core).
        reuse_memory: Keep the memory arena and pattern between runs. Off where inputs come in
            varying sizes, which would otherwise keep the largest run's activations allocated.

    Raises:
        SessionError: ONNX Runtime cannot load the graph (corrupt, not ONNX, unsupported).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are not the user's business
    options.enable_cpu_mem_arena = reuse_memory
    options.enable_mem_pattern = reuse_memory
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads is not None:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=PROVIDERS)
    except Exception as exc:  # ORT raises its own (untyped) errors for bad graphs
        raise SessionError(one_line(exc)) from None
