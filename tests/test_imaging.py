"""The one ``downscale``: its scale maps original coordinates into the smaller image."""

from __future__ import annotations

import numpy as np

from deepverify.imaging import downscale


def test_downscale_scale_maps_original_to_small() -> None:
    image = np.zeros((400, 1000, 3), dtype=np.uint8)
    image[200:220, 500:520] = 255  # a bright square whose position we follow
    small, scale = downscale(image, 250)
    assert small.shape == (100, 250, 3)
    assert scale == 0.25
    ys, xs = np.nonzero(small[..., 0] > 128)
    assert abs(xs.mean() - 510 * scale) < 1.5 and abs(ys.mean() - 210 * scale) < 1.5


def test_downscale_never_enlarges() -> None:
    image = np.zeros((10, 20), dtype=np.uint8)
    small, scale = downscale(image, 640)
    assert small is image and scale == 1.0
