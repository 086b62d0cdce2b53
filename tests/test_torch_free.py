"""The base install scans without PyTorch; `--help` imports nothing heavy; torch commands say why.

Each case runs the CLI in a subprocess whose import system refuses the training stack, as on a
base install, and reports which heavy modules ended up imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# The train extra's packages, refused inside the subprocess.
BLOCKED = ("torch", "torchvision", "timm", "pytorch_grad_cam", "safetensors", "onnx")
HEAVY = ("torch", "cv2", "onnxruntime", "av", "sklearn", "scipy", "matplotlib")
# The service's, storage's and provenance reader's stacks: only the commands using them import them.
SERVICE = (
    "fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "celery", "redis", "limits",
    "boto3", "botocore", "c2pa", "jinja2",
)  # fmt: skip

# Modules of commands other than provenance, and the scoring commands' shared options.
OTHER_COMMAND_MODULES = (
    "scan", "evaluate", "extract", "train", "serve", "worker", "live", "db", "model", "scoring",
)  # fmt: skip

_RUNNER = """
import atexit, importlib.abc, json, sys

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {name!r} (blocked by the test)")
        return None

BLOCKED = set(json.loads(sys.argv[1]))
if BLOCKED:
    sys.meta_path.insert(0, Blocker())
heavy = json.loads(sys.argv[2])
atexit.register(lambda: print("IMPORTED " + json.dumps(
    [m for m in heavy if m in sys.modules]), file=sys.stderr))
sys.argv = ["deepverify", *sys.argv[3:]]
from deepverify.cli.app import main
main()
"""


def _run(
    args: list[str], *, blocked: tuple[str, ...] = BLOCKED, watched: tuple[str, ...] = HEAVY
) -> tuple[int, str, list[str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, json.dumps(blocked), json.dumps(watched), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    lines = done.stderr.strip().splitlines()
    imported = next(json.loads(x[9:]) for x in reversed(lines) if x.startswith("IMPORTED "))
    messages = [x for x in lines if not x.startswith("IMPORTED ")]
    return done.returncode, "\n".join(messages), imported


def test_help_imports_nothing_heavy():
    code, _, imported = _run(["--help"], blocked=(), watched=HEAVY + SERVICE)
    assert code == 0
    assert imported == []


def test_a_command_imports_only_its_own_module(real_clip):
    # Commands load when asked for: provenance pays neither for the others nor for NumPy.
    others = tuple(f"deepverify.cli.{name}" for name in OTHER_COMMAND_MODULES)
    args = ["provenance", str(real_clip), "--json"]
    code, stderr, imported = _run(args, blocked=(), watched=("numpy", *others))
    assert code == 0, stderr
    assert imported == []


@pytest.mark.slow
def test_scan_runs_without_torch(tiny_checkpoint, real_clip, tmp_path):
    model = str(tiny_checkpoint.with_suffix(".onnx"))
    args = ["scan", str(real_clip), "--model", model, "--frames", "6", "--out", str(tmp_path)]
    code, stderr, imported = _run(args)
    assert code == 0, stderr
    assert "torch" not in imported
    report = json.loads((tmp_path / real_clip.stem / "report.json").read_text())
    assert report["verdict"] == "INCONCLUSIVE" and report["decision"] in {"REAL", "FAKE"}
    heatmaps = [f["heatmap"] for fr in report["frames"] for f in fr["faces"] if f["heatmap"]]
    assert heatmaps and all((tmp_path / real_clip.stem / h).is_file() for h in heatmaps)


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "VIDEO", "--engine", "torch"],
        # Each case is a cold CLI start: one runs by default, the others in the slow set.
        pytest.param(["model", "export", "MODEL"], marks=pytest.mark.slow),
        pytest.param(["model", "init", "--out", "OUT"], marks=pytest.mark.slow),
        pytest.param(["train", "--cache", "OUT"], marks=pytest.mark.slow),
    ],
)
def test_torch_commands_say_how_to_install_it(args, tiny_checkpoint, real_clip, tmp_path):
    names = {
        "VIDEO": str(real_clip),
        "MODEL": str(tiny_checkpoint),
        "OUT": str(tmp_path / "x.safetensors"),
    }
    code, stderr, _ = _run([names.get(a, a) for a in args])
    assert code == 1
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "pip install 'deepverify[train]'" in lines[0]
