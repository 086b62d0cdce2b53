"""A tiny face dataset in the folder layout, built from the shared photos, for training tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tests.videos import make_video

PHOTOS = (
    "liveportrait_d8.jpg",
    "liveportrait_d9.jpg",
    "liveportrait_d12.jpg",
    "liveportrait_d38.jpg",
)


def _photo(shared_data: Path, name: str, size: int) -> np.ndarray:
    bgr = cv2.imread(str(shared_data / "real" / name), cv2.IMREAD_COLOR)
    return cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA)


def make_face_dataset(root: Path, shared_data: Path, *, corrupt: bool = True) -> Path:
    """``root/real`` (3 short face clips + 1 photo) and ``root/fake`` (1 clip, 1 corrupt file).

    The "fake" clip is a colour-shifted face: enough for the code paths, not for realism.
    """
    (root / "real").mkdir(parents=True)
    (root / "fake").mkdir()
    frames = root / "frames"
    frames.mkdir()
    for name in PHOTOS[:3]:
        still = frames / name.replace(".jpg", ".png")
        cv2.imwrite(str(still), _photo(shared_data, name, 128))
        make_video(root / "real" / f"{Path(name).stem}.mp4", width=128, height=128, fps=8,
                   seconds=1.0, face_image=still)  # fmt: skip
    cv2.imwrite(str(root / "real" / "photo.jpg"), _photo(shared_data, PHOTOS[3], 128))
    shifted = _photo(shared_data, PHOTOS[3], 128).astype(np.int16)
    shifted[..., 2] = np.clip(shifted[..., 2] + 40, 0, 255)
    still = frames / "fake.png"
    cv2.imwrite(str(still), shifted.astype(np.uint8))
    make_video(root / "fake" / "fake_clip.mp4", width=128, height=128, fps=8, seconds=1.0,
               face_image=still)  # fmt: skip
    if corrupt:
        (root / "fake" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    return root
