"""``deepverify provenance`` and the provenance line of ``deepverify scan``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from deepverify.cli.app import app
from tests.provenance.signing import SIGNER_NAME, SignedClips

runner = CliRunner()


def test_json_untrusted_then_trusted(c2pa_clips: SignedClips, tmp_path: Path) -> None:
    result = runner.invoke(app, ["provenance", str(c2pa_clips.ai), "--json"])
    assert result.exit_code == 0, result.output
    section = json.loads(result.stdout)
    assert section["content_credentials"]["status"] == "untrusted_signer"
    anchors = tmp_path / "root.pem"
    anchors.write_text(c2pa_clips.chain.root)
    result = runner.invoke(
        app, ["provenance", str(c2pa_clips.ai), "--json", "--trust-anchors", str(anchors)]
    )
    section = json.loads(result.stdout)
    assert section["content_credentials"]["status"] == "valid"
    assert section["content_credentials"]["digital_source_types"] == ["trainedAlgorithmicMedia"]


def test_text_shows_signer_and_ai(c2pa_clips: SignedClips) -> None:
    result = runner.invoke(app, ["provenance", str(c2pa_clips.ai)])
    assert result.exit_code == 0, result.output
    assert SIGNER_NAME in result.stdout
    assert "trainedAlgorithmicMedia" in result.stdout
    assert "made with AI" in result.stdout


def test_states_in_text(c2pa_clips: SignedClips) -> None:
    expected = {
        c2pa_clips.unsigned: "proves nothing",
        c2pa_clips.changed: "changed after signing",
        c2pa_clips.corrupt: "unreadable",
    }
    for clip, words in expected.items():
        result = runner.invoke(app, ["provenance", str(clip)])
        assert result.exit_code == 0, result.output
        assert words in " ".join(result.stdout.split()), clip.name


def test_missing_file_and_bad_anchors_are_one_line(c2pa_clips: SignedClips, tmp_path: Path) -> None:
    result = runner.invoke(app, ["provenance", str(tmp_path / "nope.mp4")])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error:") and "nope.mp4" in result.stderr
    result = runner.invoke(
        app, ["provenance", str(c2pa_clips.ai), "--trust-anchors", str(tmp_path / "x.pem")]
    )
    assert result.exit_code == 1
    assert "trust anchors" in result.stderr


def test_scan_prints_one_provenance_line(
    tiny_checkpoint: Path, c2pa_clips: SignedClips, tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["scan", str(c2pa_clips.unsigned), "--model", str(tiny_checkpoint), "--frames", "4",
              "--no-heatmaps", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("provenance:")]
    assert lines == [
        "provenance: No Content Credentials: most videos have none, so this proves nothing."
    ]
