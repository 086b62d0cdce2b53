"""Which devices an engine can run on: one check for the CLI, the engines and the service."""

from __future__ import annotations

from deepverify.errors import ModelError
from deepverify.extras import require_torch


def check_device(device: str, engine: str) -> None:
    """Refuse a device that is not ``cpu``, ``cuda`` or ``cuda:N``, or that ``engine`` cannot use.

    The ONNX engine runs on the CPU only; a GPU needs the torch engine, PyTorch and the GPU itself
    (PyTorch is imported only then).

    Args:
        device: The device's name.
        engine: The engine's registry name (``onnx`` or ``torch``).

    Raises:
        ModelError: A malformed device, a GPU for the ONNX engine, or a GPU this machine lacks.
        MissingExtraError: A GPU without PyTorch installed.
    """
    kind, colon, index = device.partition(":")
    if kind not in ("cpu", "cuda") or (colon and not index.isdigit()) or (kind == "cpu" and colon):
        raise ModelError(f"{device!r} is not a torch device; use cpu, cuda or cuda:N")
    if kind == "cpu":
        return
    if engine != "torch":
        raise ModelError(
            f"{device!r} is not available on this machine's {engine} engine, which runs on the "
            "CPU; a GPU needs engine torch (--engine torch, DEEPVERIFY_ENGINE=torch)"
        )
    require_torch("a GPU device")
    import torch

    if not torch.cuda.is_available() or int(index or 0) >= torch.cuda.device_count():
        raise ModelError(
            f"{device!r} is not available on this machine; use cpu or an installed GPU"
        )
