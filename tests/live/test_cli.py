"""``deepverify live``: one JSON line per update, a session report, one-line errors."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deepverify.cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def eager_model(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with its threshold at 0: every face of every update is flagged."""
    folder = tmp_path_factory.mktemp("eager")
    for suffix in (".safetensors", ".json", ".onnx"):
        shutil.copy(tiny_checkpoint.with_suffix(suffix), folder / f"tiny{suffix}")
    card = json.loads((folder / "tiny.json").read_text())
    card["threshold"] = 0.0
    (folder / "tiny.json").write_text(json.dumps(card))
    return folder / "tiny.onnx"


def test_json_lines_and_a_session_report(
    eager_model: Path, real_clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "session"
    result = runner.invoke(app, [
        "live", str(real_clip), "--json", "--duration", "3.5", "--fps", "4", "--window", "8",
        "--model", str(eager_model), "--detector", "opencv-ssd", "--out", str(out),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) >= 2
    assert [u["seq"] for u in lines] == list(range(1, len(lines) + 1))
    assert all(u["tracks"] and u["verdict"] == "INCONCLUSIVE" for u in lines)
    session = json.loads((out / "session.json").read_text())
    assert session["source"] == str(real_clip)
    assert session["settings"] == {"fps": 4.0, "window": 8, "update_every_s": 1.0}
    assert [u["seq"] for u in session["timeline"]] == [u["seq"] for u in lines]
    # Threshold 0: each update's face is a flagged moment, with its heatmap written.
    assert len(session["flagged"]) == sum(len(u["tracks"]) for u in lines)
    for moment in session["flagged"]:
        assert (out / moment["heatmap"]).stat().st_size > 0


def test_a_source_that_never_answers_is_one_line_and_exit_1(tiny_checkpoint: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/live.flv"
        result = runner.invoke(app, [
            "live", url, "--open-timeout", "1", "--model", str(tiny_checkpoint),
            "--detector", "opencv-ssd",
        ])  # fmt: skip
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {url}: did not answer within 1 s; check the URL and that the "
                      "stream is live"]  # fmt: skip
