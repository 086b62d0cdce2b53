"""One device check for the engines, the CLI and the service settings."""

from __future__ import annotations

import pytest

from deepverify.engine import check_device, load_engine
from deepverify.errors import ModelError


@pytest.mark.parametrize("engine", ["onnx", "torch"])
def test_the_cpu_is_accepted_by_every_engine(engine: str) -> None:
    check_device("cpu", engine)


@pytest.mark.parametrize("device", ["gpu0", "cuda:x", "cpu:0", "cuda:", "", "CUDA"])
def test_a_malformed_device_is_refused(device: str) -> None:
    with pytest.raises(ModelError, match="is not a torch device; use cpu, cuda or cuda:N"):
        check_device(device, "torch")


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_the_onnx_engine_refuses_a_gpu(device: str) -> None:
    with pytest.raises(ModelError, match=r"onnx engine, which runs on the CPU.*needs engine torch"):
        check_device(device, "onnx")


def test_a_gpu_this_machine_lacks_is_refused() -> None:
    torch = pytest.importorskip("torch")
    missing = f"cuda:{torch.cuda.device_count()}"  # one past the last GPU (cuda:0 without any)
    with pytest.raises(ModelError, match="not available on this machine; use cpu"):
        check_device(missing, "torch")


def test_load_engine_checks_the_device_before_loading(tiny_checkpoint) -> None:
    with pytest.raises(ModelError, match="is not a torch device"):
        load_engine(tiny_checkpoint, engine="torch", device="gpu0")


def test_without_a_packaged_model_the_message_says_what_to_pass(monkeypatch) -> None:
    from deepverify.model import files

    monkeypatch.setattr(files, "default_model_path", lambda: None)
    expected = r"no trained default model.*--model.*DEEPVERIFY_MODEL_PATH"
    with pytest.raises(ModelError, match=expected):
        load_engine(None)
