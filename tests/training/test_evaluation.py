"""Per-manipulation evaluation: which fakes a model misses, from planted scores."""

from __future__ import annotations

from deepverify.training.eval_result import VideoResult
from deepverify.training.evaluation import per_manipulation


def _video(name: str, label: int, manipulation: str, probability: float | None) -> VideoResult:
    verdict = "INCONCLUSIVE" if probability is None else ("FAKE" if probability >= 0.5 else "REAL")
    return VideoResult(
        file=name, source="all", label=label, manipulation=manipulation, group=name,
        probability=probability, verdict=verdict, decision=None, reasons=(), tracks=1,
        track_probabilities=(), track_face_px=(),
    )  # fmt: skip


def test_per_manipulation_rows_show_what_is_missed() -> None:
    videos = [
        _video("r1", 0, "none", 0.1),
        _video("r2", 0, "none", 0.6),  # a real video flagged at threshold 0.5
        _video("r3", 0, "none", None),  # no face: listed, not scored
        _video("df1", 1, "Deepfakes", 0.9),
        _video("df2", 1, "Deepfakes", 0.7),
        _video("nt1", 1, "NeuralTextures", 0.2),
        _video("nt2", 1, "NeuralTextures", 0.05),
    ]
    rows = {row.manipulation: row for row in per_manipulation(videos, threshold=0.5)}
    assert list(rows) == ["none", "Deepfakes", "NeuralTextures"]
    assert (rows["none"].videos, rows["none"].scored, rows["none"].above_threshold) == (
        3, 2, 1,
    )  # fmt: skip
    assert rows["Deepfakes"].above_threshold == 2 and rows["Deepfakes"].roc_auc_vs_real == 1
    assert rows["NeuralTextures"].above_threshold == 0
    # nt1 (0.2) beats r1 (0.1) only: 1 of 4 real/fake pairs ordered right; nt2 beats none.
    assert rows["NeuralTextures"].roc_auc_vs_real == 0.25
    assert rows["NeuralTextures"].mean_probability == 0.125
    assert rows["NeuralTextures"].files == ("nt1", "nt2")
    assert rows["none"].verdicts == {"REAL": 1, "FAKE": 1, "INCONCLUSIVE": 1}
