"""Square face crops with margin and padding; tensor normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepverify.faces.crops import crop_face, square_box, to_tensor


def test_square_box_size_and_centre() -> None:
    x1, y1, x2, y2 = square_box((100, 100, 140, 180), margin=0.25, frame_size=(640, 480))
    assert x2 - x1 == y2 - y1 == 120  # max(40, 80) * 1.5
    assert ((x1 + x2) / 2, (y1 + y2) / 2) == (120, 140)


def test_square_box_negative_margin_refused() -> None:
    with pytest.raises(ValueError, match="margin"):
        square_box((0, 0, 10, 10), margin=-0.1, frame_size=(20, 20))


def test_crop_inside_frame_is_exact_region() -> None:
    image = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    crop = crop_face(image, (100, 50, 150, 100), margin=0.0, size=50)
    assert crop.shape == (50, 50, 3) and crop.dtype == np.uint8
    assert np.array_equal(crop, image[50:100, 100:150])


def test_crop_outside_frame_is_padded_black() -> None:
    image = np.full((100, 100, 3), 200, np.uint8)
    # Box in the top-left corner with a big margin: the window hangs off the frame.
    crop = crop_face(image, (0, 0, 20, 20), margin=0.5, size=40)
    # Window is 40x40 centred on (10, 10): x,y in [-10, 30); the first 10 rows/cols are padding.
    assert crop.shape == (40, 40, 3)
    assert (crop[:10] == 0).all() and (crop[:, :10] == 0).all()
    assert (crop[10:, 10:] == 200).all()


def test_crop_resizes_both_ways() -> None:
    image = np.zeros((400, 400, 3), np.uint8)
    image[100:300, 100:300] = 255
    big = crop_face(image, (100, 100, 300, 300), margin=0.0, size=64)
    small = crop_face(image, (190, 190, 200, 200), margin=0.0, size=64)
    assert big.shape == small.shape == (64, 64, 3)
    assert big.min() == 255 and small.min() == 255


def test_box_fully_outside_frame_still_gives_a_crop() -> None:
    image = np.full((50, 50, 3), 9, np.uint8)
    crop = crop_face(image, (80, 80, 100, 100), margin=0.1, size=16)
    assert crop.shape == (16, 16, 3)


def test_to_tensor_normalises() -> None:
    crops = [np.full((8, 8, 3), (255, 0, 128), np.uint8), np.zeros((8, 8, 3), np.uint8)]
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.5, 1.0)
    tensor = to_tensor(crops, mean=mean, std=std)
    assert tensor.shape == (2, 3, 8, 8) and tensor.dtype == torch.float32
    assert tensor[0, :, 0, 0].tolist() == pytest.approx([2.0, -1.0, 128 / 255 - 0.5], abs=1e-6)
    assert tensor[1, :, 3, 3].tolist() == pytest.approx([-2.0, -1.0, -0.5])


def test_to_tensor_empty_refused() -> None:
    with pytest.raises(ValueError):
        to_tensor([], mean=(0, 0, 0), std=(1, 1, 1))
