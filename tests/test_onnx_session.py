"""The package's one ONNX Runtime session setup (the detector graph and YuNet share it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepverify.onnx_session import SessionError, cpu_session


def test_a_session_runs_on_the_cpu_with_the_asked_threads(tiny_checkpoint: Path) -> None:
    session = cpu_session(tiny_checkpoint.with_suffix(".onnx"), threads=1, reuse_memory=False)
    assert session.get_providers() == ["CPUExecutionProvider"]
    options = session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert not options.enable_cpu_mem_arena and not options.enable_mem_pattern
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_a_file_that_is_not_a_graph_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph\n" * 100)
    with pytest.raises(SessionError) as caught:
        cpu_session(bad)
    assert str(caught.value) and "\n" not in str(caught.value)
