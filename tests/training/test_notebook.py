"""The Colab notebook runs end to end on a tiny fixture (it only calls the CLI)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "train_colab.ipynb"


@pytest.mark.slow
def test_notebook_extract_train_evaluate(
    face_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    env = {
        "DV_DATA": str(face_dataset),
        "DV_FORMAT": "folder",
        "DV_EVAL_DATA": str(face_dataset),
        "DV_WORK": str(work),
        "DV_CONFIG": str(REPO / "configs" / "tiny.yaml"),
        "DV_TRAIN_ARGS": "--epochs 1 --set data.clips_per_epoch=4 --set threads=1",
        "DV_EXTRACT_ARGS": "--workers 1 --frames 4 --size 96",
        # The `deepverify` command of this environment, for the kernel's shell escapes.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute(cwd=str(tmp_path))
    assert (work / "cache" / "index.json").is_file()
    assert (work / "run" / "model.safetensors").is_file()
    result = json.loads((work / "eval" / "evaluation.json").read_text())
    assert result["counts"]["scored"] == 4 and result["video"]["n_fake"] == 1
    outputs = "".join(
        str(o.get("text", "")) for cell in notebook.cells for o in cell.get("outputs", [])
    )
    assert "Traceback" not in outputs
