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
    with pytest.raises(ValueError, match=r"margin must be >= 0, got -0\.1"):
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


RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def _quadrants(image: np.ndarray, x1: int, y1: int, side: int) -> None:
    """Paint the square at (x1, y1) in four colours: red, green / blue, white (row by row)."""
    half = side // 2
    image[y1 : y1 + half, x1 : x1 + half] = RED
    image[y1 : y1 + half, x1 + half : x1 + side] = GREEN
    image[y1 + half : y1 + side, x1 : x1 + half] = BLUE
    image[y1 + half : y1 + side, x1 + half : x1 + side] = WHITE


def test_crop_resizes_both_ways_keeping_the_box_content_in_place() -> None:
    image = np.zeros((400, 400, 3), np.uint8)
    _quadrants(image, 100, 100, 200)  # a 200 px box, shrunk to 64
    _quadrants(image, 20, 320, 10)  # a 10 px box elsewhere, enlarged to 64
    big = crop_face(image, (100, 100, 300, 300), margin=0.0, size=64)
    # 200 / 64 = 3.125 source pixels per crop pixel: the colour edges fall exactly on 32.
    for rows, cols, colour in [(0, 0, RED), (0, 1, GREEN), (1, 0, BLUE), (1, 1, WHITE)]:
        quadrant = big[rows * 32 : rows * 32 + 32, cols * 32 : cols * 32 + 32]
        assert (quadrant == colour).all(), (rows, cols)
    small = crop_face(image, (20, 320, 30, 330), margin=0.0, size=64)
    # Upscaled bilinearly: blended along the edges, each quadrant's middle keeps its colour.
    for (y, x), colour in [((16, 16), RED), ((16, 48), GREEN), ((48, 16), BLUE), ((48, 48), WHITE)]:
        assert tuple(small[y, x]) == colour, (y, x)


def test_crop_with_margin_takes_the_surroundings_in_scale() -> None:
    image = np.zeros((300, 300, 3), np.uint8)
    _quadrants(image, 100, 100, 100)
    # Margin 0.5: a 200 px window centred on the box, the box in its middle half.
    crop = crop_face(image, (100, 100, 200, 200), margin=0.5, size=100)
    assert not crop[:25].any() and not crop[75:].any()
    assert not crop[:, :25].any() and not crop[:, 75:].any()
    assert (crop[25:50, 25:50] == RED).all() and (crop[50:75, 50:75] == WHITE).all()


def test_box_fully_outside_frame_keeps_one_frame_pixel() -> None:
    image = np.full((50, 50, 3), 9, np.uint8)
    crop = crop_face(image, (80, 80, 100, 100), margin=0.1, size=16)
    # The 22 px window is moved back to touch the frame: the frame's corner pixel (49, 49) is its
    # top-left one, everything else is padding.
    assert crop.shape == (16, 16, 3)
    assert crop[0, 0].min() > 0
    assert np.count_nonzero(crop.any(axis=2)) == 1


def test_to_tensor_normalises() -> None:
    crops = [np.full((8, 8, 3), (255, 0, 128), np.uint8), np.zeros((8, 8, 3), np.uint8)]
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.5, 1.0)
    tensor = to_tensor(crops, mean=mean, std=std)
    assert tensor.shape == (2, 3, 8, 8) and tensor.dtype == torch.float32
    assert tensor[0, :, 0, 0].tolist() == pytest.approx([2.0, -1.0, 128 / 255 - 0.5], abs=1e-6)
    assert tensor[1, :, 3, 3].tolist() == pytest.approx([-2.0, -1.0, -0.5])


def test_to_tensor_empty_refused() -> None:
    with pytest.raises(ValueError, match="normalize needs at least one crop"):
        to_tensor([], mean=(0, 0, 0), std=(1, 1, 1))


def test_shrinking_averages_instead_of_aliasing() -> None:
    # A one-pixel checkerboard halved: area averaging gives flat grey; sampling every other
    # pixel would keep one colour of the pattern.
    board = ((np.indices((128, 128)).sum(axis=0) % 2) * 255).astype(np.uint8)
    image = np.repeat(board[..., None], 3, axis=2)
    crop = crop_face(image, (0, 0, 128, 128), margin=0.0, size=64)
    assert np.abs(crop.astype(int) - 128).max() <= 1
