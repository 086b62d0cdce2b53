"""The packaged default model is pinned: its files, and its verdict on one evaluation clip.

A change to decoding, face detection, cropping, normalisation or calibration that silently moves
what users are told fails here. When the model is retrained on purpose, update the pins from
`deepverify evaluate ../shared/data/eval` and say so in docs/model_card.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deepverify.engine import load_engine
from deepverify.faces import create_detector
from deepverify.files import sha256_file
from deepverify.model import ModelCard, default_model_path
from deepverify.pipeline import analyze_video

WEIGHTS_SHA256 = "b000d2464a6c841d281c910b640e397928e8227f06eeb3933e0d8798a04beb67"
ONNX_SHA256 = "83eddd9a516b73a82087d742dc3cbfb3c5eef92f4418bba95664baefa647faeb"
PINNED_CLIP = "eval/fake/ffpp_df_519_515.mp4"
# Measured with the ONNX engine, yunet, 32 frames, the card's decision policy (its video score
# is the mean over frames of the per-face probabilities; the LSTM's track score is 0.784).
PINNED_PROBABILITY = 0.702
PINNED_BAND = (0.2487, 0.618)  # fitted on the calibration split at 90 % precision each side


def _weights() -> Path:
    path = default_model_path()
    assert path is not None, "the package ships a default model"
    return path


def test_packaged_files_are_the_pinned_ones() -> None:
    folder = _weights().parent
    card = ModelCard.read(folder / "default.json")
    assert sha256_file(folder / "default.safetensors") == WEIGHTS_SHA256 == card.weights_sha256
    assert sha256_file(folder / "default.onnx") == ONNX_SHA256 == card.onnx_sha256
    assert card.trained and card.detector == "yunet" and card.frames == 32
    assert card.decision is not None and card.decision.band == PINNED_BAND
    assert card.decision.aggregation == "largest_frames" and card.decision.ood is not None


@pytest.mark.slow
def test_packaged_model_verdict_on_an_eval_clip_is_pinned(shared_data: Path) -> None:
    engine = load_engine(None)
    report = analyze_video(
        shared_data / PINNED_CLIP,
        model=engine,
        detector=create_detector(engine.card.detector),
        explain=False,
    )
    assert report.probability == pytest.approx(PINNED_PROBABILITY, abs=0.01)
    assert report.decision == "FAKE" and report.threshold == engine.card.threshold
    assert report.verdict == "FAKE" and report.reasons == []  # above the band's FAKE edge
