"""The service's commands: ``db upgrade``/``current``, ``serve`` and ``worker`` refusals."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from deepverify.cli.app import app

runner = CliRunner()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPVERIFY_HOME", str(tmp_path / "home"))
    for name in ("DEEPVERIFY_DATABASE_URL", "DEEPVERIFY_BROKER_URL", "DEEPVERIFY_MODEL_PATH"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def test_db_upgrade_and_current(home):
    before = runner.invoke(app, ["db", "current"])
    assert before.exit_code == 0 and "none" in before.output
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "revision 0003" in result.output
    assert (home / "deepverify.db").is_file()
    assert "revision 0003" in runner.invoke(app, ["db", "current"]).output


def test_invalid_settings_stop_serve_with_one_line(home, monkeypatch):
    monkeypatch.setenv("DEEPVERIFY_ENVIRONMENT", "production")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1
    assert "DEEPVERIFY_SECRET_KEY must be set" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_a_missing_model(home, tmp_path):
    result = runner.invoke(app, ["serve", "--model", str(tmp_path / "nope.safetensors")])
    assert result.exit_code == 1 and "not found" in result.output


def test_worker_needs_a_broker(home):
    result = runner.invoke(app, ["worker"])
    assert result.exit_code == 1 and "DEEPVERIFY_BROKER_URL is not set" in result.output


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEEPVERIFY_DETECTOR", "mtcnn", "choose one of: opencv-ssd, yunet"),
        ("DEEPVERIFY_DEVICE", "gpu0", "is not a torch device"),
        ("DEEPVERIFY_DEVICE", "cuda:7", "not available on this machine"),
    ],
)
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_unusable_detector_or_device_stops_start_up(
    home, monkeypatch, command, variable, value, message
):
    """Checked against the registries before serving, not on the first job."""
    monkeypatch.setenv(variable, value)
    if command == "worker":
        monkeypatch.setenv("DEEPVERIFY_BROKER_URL", "redis://127.0.0.1:1/0")  # never reached
    result = runner.invoke(app, [command])
    assert result.exit_code == 1, result.output
    assert variable in result.output and message in result.output
    assert "Traceback" not in result.output
