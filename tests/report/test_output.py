"""The report's files: staging, background image writing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from deepverify.report.output import IMAGE_SUFFIX, ImageWriter, staging


def _gradient() -> np.ndarray:
    ramp = np.linspace(0, 255, 96, dtype=np.uint8)
    red, green = np.tile(ramp, (64, 1)), np.tile(ramp[::-1], (64, 1))
    return np.stack([red, green, np.full((64, 96), 40, np.uint8)], axis=-1)


def test_images_are_written_as_jpeg_in_the_background(tmp_path: Path) -> None:
    image = _gradient()
    with ImageWriter(tmp_path) as images:
        rel = images.submit("heatmaps/track0_000", image)
    assert rel == "heatmaps/track0_000" + IMAGE_SUFFIX
    data = (tmp_path / rel).read_bytes()
    assert data[:3] == b"\xff\xd8\xff"  # JPEG
    back = cv2.cvtColor(cv2.imread(str(tmp_path / rel)), cv2.COLOR_BGR2RGB)
    # RGB order kept (the red ramp rises left to right), lossy but close.
    assert np.abs(back.astype(int) - image.astype(int)).mean() < 3


def test_a_failed_write_fails_the_analysis(tmp_path: Path) -> None:
    (tmp_path / "frames" / ("frame_000" + IMAGE_SUFFIX)).mkdir(parents=True)  # not writable
    with pytest.raises(OSError, match="could not write"), ImageWriter(tmp_path) as images:
        images.submit("frames/frame_000", _gradient())


def test_staging_publishes_only_on_success(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="analysis failed"), staging(out) as folder:
        assert folder is not None
        (folder / "report.json").write_text("{}")
        raise RuntimeError("analysis failed")
    assert list(tmp_path.iterdir()) == []
    with staging(out) as folder:
        assert folder is not None
        (folder / "report.json").write_text("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (out / "report.json").read_text() == "{}"
