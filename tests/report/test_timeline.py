"""The timeline plot: each track where its probabilities are, the threshold where it is."""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from deepverify.report.schema import FaceObservation, FrameResult, ModelInfo, Report, VideoMeta
from deepverify.report.timeline import (
    HEIGHT,
    THRESHOLD_COLOUR,
    TRACK_COLOURS,
    WIDTH,
    nice_step,
    timeline_png,
)


def _report(probabilities: dict[int, float], threshold: float) -> Report:
    """A 10 s video, 20 frames, each track at one constant probability."""
    frames = [
        FrameResult(
            position=k, index=k * 15, timestamp=0.25 + k * 0.5,
            faces=[
                FaceObservation(track_id=track, box=(0, 0, 10, 10), detection_score=0.9,
                                fake_probability=p)
                for track, p in probabilities.items()
            ],
        )
        for k in range(20)
    ]  # fmt: skip
    return Report(
        verdict="FAKE", probability=max(probabilities.values()), threshold=threshold,
        explanation="test",
        video=VideoMeta(filename="v.mp4", sha256="0" * 64, container="mp4", codec="h264",
                        width=64, height=48, rotation=0, duration_s=10.0, fps=30.0,
                        frame_count=300),
        model=ModelInfo(model_id="m", backbone="b", input_size=64, trained=True,
                        threshold=threshold, temperature=1.0),
        tracks=[], frames=frames, timings={}, warnings=[], created_at=datetime.now(UTC),
    )  # fmt: skip


def _rows_of(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Rows of the plot area (legend excluded) holding pixels of ``colour``."""
    close = np.abs(image.astype(int) - np.array(colour)).sum(axis=-1) < 30
    close[:, WIDTH - 160 :] = False  # the legend box sits at the top right
    return np.flatnonzero(close.sum(axis=1) > 20)


def test_tracks_and_threshold_are_drawn_where_their_values_are() -> None:
    png = timeline_png(_report({0: 0.9, 1: 0.1}, threshold=0.5))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    image = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    assert image.shape == (HEIGHT, WIDTH, 3)
    top, bottom = 12, HEIGHT - 44  # the plot area: probability 1 at the top, 0 at the bottom

    def row(p: float) -> float:
        return bottom - (bottom - top) * p

    for colour, p in ((TRACK_COLOURS[0], 0.9), (TRACK_COLOURS[1], 0.1), (THRESHOLD_COLOUR, 0.5)):
        rows = _rows_of(image, colour)
        assert rows.size and abs(rows.mean() - row(p)) < 4, (colour, p, rows)


@pytest.mark.parametrize(
    ("span", "step"), [(10.0, 2.0), (30.04, 5.0), (300.0, 50.0), (0.5, 0.1), (1e-3, 2e-4)]
)
def test_time_ticks_are_round_numbers(span: float, step: float) -> None:
    assert nice_step(span) == pytest.approx(step)
