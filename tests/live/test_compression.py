"""The heavy-compression gate on live streams: the file's rule and threshold, on the window."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import pytest

from deepverify.decision import DEFAULT_POLICY
from deepverify.engine import Engine
from deepverify.faces import FaceDetector
from deepverify.live.options import LiveOptions, SourceOptions
from deepverify.live.session import run_live
from deepverify.live.source import LiveSource
from deepverify.pipeline import analyze_video
from tests.live.conftest import Sender, free_port
from tests.live.sender import short_gop_copy

LOW_BIT_RATE = 10_000
"""Bits per second: 0.002 bits per pixel for the 512x512 25 fps clip, half the gate's limit
(the same clip at CRF 23 has 0.059)."""
COMPRESSED = "heavily compressed"


@pytest.fixture(scope="module")
def starved_clip(real_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compression") / "starved.mp4"
    return short_gop_copy(real_clip, out, bit_rate=LOW_BIT_RATE)


def _judged(url: str, model: Engine, detector: FaceDetector) -> list[tuple[str, ...]]:
    options = LiveOptions(fps=4, window=8, update_every_s=1.0, duration_s=3.5, explain=False)
    return [u.reasons for u in run_live(url, model=model, detector=detector, options=options)]


def test_a_stream_at_a_very_low_bit_rate_is_inconclusive_for_its_compression(
    tiny_model: Engine, ssd: FaceDetector, starved_clip: Path, real_clip: Path
) -> None:
    sender = Sender(starved_clip, free_port())
    sender.start()
    try:
        reasons = _judged(sender.url, tiny_model, ssd)
    finally:
        sender.kill()
    assert len(reasons) >= 3
    # A full window: its packets over its pixels, against the policy's own threshold.
    last = [r for r in reasons[-1] if COMPRESSED in r]
    assert len(last) == 1, reasons[-1]
    measured = float(last[0].split("(")[1].split(" bits")[0])
    assert measured < DEFAULT_POLICY.min_bits_per_pixel
    assert f"below {DEFAULT_POLICY.min_bits_per_pixel:.4f}" in last[0]
    # The same file scanned gets the same reason, by the same rule.
    report = analyze_video(starved_clip, model=tiny_model, detector=ssd, num_frames=8,
                           explain=False)  # fmt: skip
    assert "heavy_compression" in {r.code for r in report.reasons}


def test_a_normal_stream_is_not_held_for_compression(
    tiny_model: Engine, ssd: FaceDetector, sender: Callable[[], Sender]
) -> None:
    reasons = _judged(sender().url, tiny_model, ssd)
    assert len(reasons) >= 3
    assert not [r for update in reasons for r in update if COMPRESSED in r]
    assert "the model is untrained" in reasons[-1]  # the gates were applied


def test_each_frame_carries_the_coded_bytes_and_decoded_pixels_up_to_it(
    starved_clip: Path,
) -> None:
    with av.open(str(starved_clip)) as container:
        stream = container.streams.video[0]
        sizes = [p.size for p in container.demux(stream) if p.size]
        side = stream.codec_context.width * stream.codec_context.height
    arrivals = []
    options = SourceOptions(speed=50.0)
    with LiveSource(str(starved_clip), fps=4, options=options) as live:
        while True:
            try:
                arrival = live.get(timeout=10.0)
            except EOFError:
                break
            assert arrival is not None
            arrivals.append(arrival)
    assert len(arrivals) >= 8
    for arrival in arrivals:
        k = arrival.frame.index
        assert arrival.coded is not None
        assert arrival.coded.pixels == (k + 1) * side
        assert arrival.coded.bytes == sum(sizes[: k + 1])
