"""``deepverify scan`` through the real CLI entry point."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deepverify.cli.app import app
from tests.cli.helpers import one_line_error

runner = CliRunner()


def test_scan_file_json(tiny_checkpoint, real_clip, tmp_path):
    result = runner.invoke(
        app, ["scan", str(real_clip), "--model", str(tiny_checkpoint), "--json", "--frames", "6",
              "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["verdict"] == "INCONCLUSIVE"  # an untrained model never decides
    assert report["decision"] in {"REAL", "FAKE"}
    assert len(report["frames"]) == 6
    assert (tmp_path / real_clip.stem / "report.html").is_file()
    assert "untrained" in result.stderr


def test_scan_without_model_says_so(monkeypatch, real_clip, tmp_path):
    monkeypatch.setattr("deepverify.model.files.default_model_path", lambda: None)
    result = runner.invoke(app, ["scan", str(real_clip), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "--model" in one_line_error(result)


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 100, None])
def test_scan_bad_file_is_one_line(tiny_checkpoint, tmp_path, content):
    target = tmp_path / "clip.mp4"
    if content is not None:
        target.write_bytes(content)
    result = runner.invoke(
        app, ["scan", str(target), "--model", str(tiny_checkpoint), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code != 0
    assert "clip.mp4" in one_line_error(result)
    assert not (tmp_path / "o").exists()


def test_scan_folder_goes_on_after_a_bad_file(tiny_checkpoint, real_clip, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(real_clip, folder / "good.mp4")
    (folder / "bad.mp4").write_bytes(b"not a video at all")
    (folder / "notes.txt").write_text("ignored")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["scan", str(folder), "--model", str(tiny_checkpoint), "--frames", "4", "--out",
              str(out), "--no-heatmaps"],
    )  # fmt: skip
    assert result.exit_code == 1
    with (out / "summary.csv").open() as handle:
        rows = {row["file"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"good.mp4", "bad.mp4"}
    assert rows["good.mp4"]["verdict"] == "INCONCLUSIVE"
    assert rows["good.mp4"]["reasons"] == "untrained_model"
    assert rows["good.mp4"]["decision"] in {"REAL", "FAKE"}
    assert rows["bad.mp4"]["verdict"] == "ERROR" and rows["bad.mp4"]["error"]
    assert json.loads((out / "summary.json").read_text())[0]["file"] == "bad.mp4"
    assert (out / "good" / "report.json").is_file()


def test_unknown_detector_lists_choices(tiny_checkpoint, real_clip):
    result = runner.invoke(
        app, ["scan", str(real_clip), "--model", str(tiny_checkpoint), "--detector", "nope"]
    )
    assert result.exit_code == 2
    assert "opencv-ssd" in result.output and "yunet" in result.output


def test_rich_summary_names_the_verdict(tiny_checkpoint, real_clip, tmp_path: Path):
    result = runner.invoke(
        app, ["scan", str(real_clip), "--model", str(tiny_checkpoint), "--frames", "4", "--out",
              str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "INCONCLUSIVE" in result.stdout and "the model is untrained" in result.stdout
    assert "report:" in result.stdout


def _decided_copy(checkpoint: Path, folder: Path, threshold: float) -> Path:
    """The tiny model's files with a card that says trained, at ``threshold`` (no band)."""
    folder.mkdir()
    for suffix in (".safetensors", ".onnx"):
        shutil.copy(checkpoint.with_suffix(suffix), folder / f"tiny{suffix}")
    card = json.loads(checkpoint.with_suffix(".json").read_text())
    card.update(trained=True, threshold=threshold)
    (folder / "tiny.json").write_text(json.dumps(card))
    return folder / "tiny.onnx"


@pytest.mark.parametrize(("threshold", "code"), [(0.0, 3), (1.0, 0)])
def test_exit_code_says_the_verdict(tiny_checkpoint, real_clip, tmp_path, threshold, code):
    # Threshold 0: every probability is at or above it (FAKE, 3); threshold 1: none is (REAL, 0).
    model = _decided_copy(tiny_checkpoint, tmp_path / "model", threshold)
    args = ["scan", str(real_clip), "--model", str(model), "--frames", "4", "--no-heatmaps",
            "--out", str(tmp_path / "out")]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0  # without the flag: success is 0
    result = runner.invoke(app, [*args, "--exit-code"])
    assert result.exit_code == code, result.output


def test_exit_code_of_an_untrained_model_is_inconclusive(tiny_checkpoint, real_clip, tmp_path):
    args = ["scan", str(real_clip), "--model", str(tiny_checkpoint), "--frames", "4",
            "--no-heatmaps", "--out", str(tmp_path), "--exit-code"]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 4
