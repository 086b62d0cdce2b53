"""``deepverify extract``, ``train`` and ``evaluate`` through the real CLI entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deepverify.cli.app import app
from deepverify.model import ModelCard
from deepverify.training.eval_result import EvaluationResult
from tests.cli.helpers import one_line_error
from tests.training.helpers import make_face_dataset

runner = CliRunner()
TINY_TRAIN = ["--set", "model.input_size=64", "--set", "model.frames=4", "--set",
              "model.lstm_hidden=16", "--set", "model.pretrained=false", "--set",
              "data.clip_frames=3", "--set", "data.clips_per_epoch=4", "--set",
              "data.val_fraction=0.4", "--set", "threads=1", "--epochs", "1"]  # fmt: skip


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    return make_face_dataset(tmp_path_factory.mktemp("cli") / "data", shared_data)


@pytest.fixture(scope="module")
def cache(dataset: Path) -> Path:
    out = dataset.parent / "cache"
    result = runner.invoke(
        app, ["extract", str(dataset), "--out", str(out), "--frames", "4", "--size", "96",
              "--workers", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fake_broken.mp4" in result.stderr  # the corrupt file is reported, the run goes on
    return out


def test_extract_summary_and_resume(cache: Path, dataset: Path) -> None:
    index = json.loads((cache / "index.json").read_text())
    assert index["summary"] == {"ok": 5, "no_face": 0, "failed": 1}
    # crops are cut from the packaged model's detector unless --detector says otherwise
    assert json.loads((cache / "cache.json").read_text())["options"]["detector"] == "yunet"
    again = runner.invoke(
        app, ["extract", str(dataset), "--out", str(cache), "--frames", "4", "--size", "96"]
    )
    assert again.exit_code == 0, again.output
    assert "│ 6     │ 6 " in again.stdout  # all six items were already cached


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "kinetics"], "valid: celebdf, dfdc, ffpp, folder"),
        (["--format", "dfdc"], "no dfdc_train_part_*/metadata.json"),
        (["--format", "ffpp"], "original_sequences/ is missing"),
        (["--detector", "haar"], "haar"),
        (["--landmarks", "haar", "--workers", "2"], "haar"),
    ],
)
def test_extract_bad_input(dataset: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["extract", str(dataset), "--out", str(tmp_path / "c"), *args])
    assert message in one_line_error(result)


def test_extract_wrong_layout(tmp_path: Path) -> None:
    (tmp_path / "videos").mkdir()
    result = runner.invoke(app, ["extract", str(tmp_path), "--out", str(tmp_path / "c")])
    assert "real/ and fake/" in one_line_error(result)


def test_train_then_evaluate(cache: Path, dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--cache", str(cache), "--out", str(run), *TINY_TRAIN])
    assert result.exit_code == 0, result.output
    assert (run / "model.safetensors").is_file() and (run / "metrics.csv").is_file()
    out = tmp_path / "eval"
    model = run / "model.safetensors"
    second = tmp_path / "second"  # a second source folder: one real clip, no fakes
    (second / "real").mkdir(parents=True)
    shutil.copy(next((dataset / "real").glob("*.mp4")), second / "real" / "again.mp4")
    result = runner.invoke(
        app, ["evaluate", str(dataset), str(second), "--model", str(model), "--out", str(out),
              "--frames", "4", "--record", "fixture"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "broken.mp4" in result.stderr
    report = json.loads((out / "evaluation.json").read_text())
    assert report["counts"] == {"items": 7, "scored": 5, "no_face": 0, "failed": 2}
    assert report["video"]["n"] == 5 and report["video"]["n_fake"] == 1
    assert report["frame"]["n"] == 5 * 4
    # Per source folder, and together; the untrained-looking tiny run may abstain, but every
    # evaluated video is counted in the coverage.
    assert list(report["per_source"]) == [dataset.name, "second"]
    assert report["per_source"]["second"]["videos"] == 1
    assert report["per_source"][dataset.name]["video"]["n"] == 4
    assert report["decisive"]["videos"] == 5 and "coverage" in report["decisive"]
    assert len(report["risk_coverage"]["coverage"]) == 5
    assert (out / "risk_coverage.png").is_file() and "coverage" in result.stdout
    rows = {row["manipulation"]: row for row in report["per_manipulation"]}
    assert set(rows) == {"none", "unknown"} and rows["unknown"]["scored"] == 1
    assert "AUC vs" in result.stdout and "F/R/I" in result.stdout
    low, high = report["video_intervals"]["roc_auc"]  # 1 fake, 3 reals: still both classes
    assert low <= report["video"]["roc_auc"] <= high and "intervals" in result.stdout
    assert (out / "roc_video.png").is_file() and (out / "reliability_video.png").is_file()
    card = ModelCard.read(model.with_suffix(".json"))
    assert card.metrics["evaluation"]["fixture"]["video"]["roc_auc"] == report["video"]["roc_auc"]
    assert card.metrics["evaluation"]["fixture"]["video_intervals"] == report["video_intervals"]
    assert set(card.metrics["evaluation"]["fixture"]["per_source"]) == {dataset.name, "second"}
    assert report["model"]["threshold"] == card.threshold  # applied, not fitted on this data
    # The typed result keeps evaluation.json's format (what scripts and older files have).
    assert list(report) == [
        "model", "created", "counts", "video", "video_intervals", "frame", "decisive",
        "risk_coverage", "per_source", "per_manipulation", "within_group", "videos", "no_face",
        "failed", "plots",
    ]  # fmt: skip
    assert list(report["videos"][0]) == [
        "file", "source", "label", "manipulation", "group", "probability", "verdict", "decision",
        "reasons", "tracks", "track_probabilities", "track_face_px",
    ]  # fmt: skip
    assert EvaluationResult.model_validate(report).counts.scored == 5


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("optim:\n  learning_rate: 0.1\n", "unknown key 'optim.learning_rate'"),
        ("optim:\n  epochs: ten\n", "optim.epochs"),
    ],
)
def test_train_bad_config(tmp_path: Path, config: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(config)
    result = runner.invoke(app, ["train", "--config", str(path), "--cache", str(tmp_path)])
    assert message in one_line_error(result)


def test_train_not_a_cache(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--cache", str(tmp_path), *TINY_TRAIN])
    assert "run `deepverify extract` first" in one_line_error(result)


def test_evaluate_bad_model(dataset: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    result = runner.invoke(
        app, ["evaluate", str(dataset), "--model", str(tmp_path / "x.safetensors")]
    )
    assert "not found" in one_line_error(result)
    copy = tmp_path / "m.safetensors"
    shutil.copy(tiny_checkpoint, copy)
    result = runner.invoke(app, ["evaluate", str(tmp_path), "--model", str(copy)])
    assert "real/ and fake/" in one_line_error(result)


def test_fit_decision_refuses_a_config_without_calibration_or_of_another_split(
    cache: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  cache: {cache}\n  calib_fraction: 0.0\n")
    result = runner.invoke(app, ["model", "fit-decision", str(tiny_checkpoint), "-c", str(config)])
    assert "needs data.cache and a calibration split" in one_line_error(result)
    # A model whose card records another split: its calibration videos could be training ones.
    for suffix in (".safetensors", ".onnx"):
        shutil.copy(tiny_checkpoint.with_suffix(suffix), tmp_path / f"m{suffix}")
    card = json.loads(tiny_checkpoint.with_suffix(".json").read_text())
    card["training_data"] = {"split_groups_sha256": "0" * 64}
    (tmp_path / "m.json").write_text(json.dumps(card))
    config.write_text(f"data:\n  cache: {cache}\n  calib_fraction: 0.3\n  val_fraction: 0.3\n")
    result = runner.invoke(
        app, ["model", "fit-decision", str(tmp_path / "m.onnx"), "-c", str(config)]
    )
    assert "trained on another split" in one_line_error(result)
