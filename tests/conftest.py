"""Shared fixtures: where the read-only shared data lives, and small helpers.

The shared folder (``../shared`` beside the checkout) holds the face detector weights and the
real face clips; tests read it through ``DEEPVERIFY_SHARED_DATA`` / ``DEEPVERIFY_DETECTOR_DIR``
(set by the Makefile) and never write into it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from tests.provenance.signing import SignedClips

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    return Path(os.environ.get("DEEPVERIFY_SHARED_DATA", REPO.parent / "shared" / "data"))


def _detector_dir() -> Path:
    return Path(os.environ.get("DEEPVERIFY_DETECTOR_DIR", REPO.parent / "shared" / "models"))


# Make the detector weights findable even when pytest is run without the Makefile.
os.environ.setdefault("DEEPVERIFY_DETECTOR_DIR", str(_detector_dir()))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = _shared_data()
    if not (path / "manifest.json").is_file():
        pytest.fail(f"shared data not found at {path}; set DEEPVERIFY_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def detector_dir() -> Path:
    return _detector_dir()


@pytest.fixture(scope="session")
def real_clip(shared_data: Path) -> Path:
    """A short real talking-head clip (512x512, 25 fps, 3.1 s)."""
    return shared_data / "real" / "liveportrait_d0.mp4"


@pytest.fixture(scope="session")
def eval_clip(shared_data: Path) -> Path:
    """A labelled FaceForensics++ clip (640x480, 25 fps, 30 s)."""
    return shared_data / "eval" / "real" / "ffpp_519.mp4"


@pytest.fixture(scope="session")
def portrait_clip(shared_data: Path) -> Path:
    """A portrait DFDC clip (1080x1920 display)."""
    return shared_data / "eval" / "fake" / "dfdc_brtujopkby.mp4"


@pytest.fixture(scope="session")
def face_image(shared_data: Path) -> Path:
    return shared_data / "images" / "astronaut.png"


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight, untrained efficientnet_lite0 checkpoint (input 64, 8 frames).

    Returns the ``.safetensors`` path; its model card sits beside it as ``.json`` and its ONNX
    graph (for the default engine) as ``.onnx``.
    """
    import torch

    from deepverify.model import ModelCard, build_model, save_checkpoint
    from deepverify.model.export import export_onnx

    torch.manual_seed(0)
    card = ModelCard.for_backbone("efficientnet_lite0", input_size=64, frames=8, lstm_hidden=16)
    path = tmp_path_factory.mktemp("tiny_model") / "tiny.safetensors"
    save_checkpoint(build_model(card, pretrained=False), card, path)
    export_onnx(path)
    return path


@pytest.fixture(scope="session")
def real_face_crops(real_clip: Path) -> list[np.ndarray]:
    """Eight RGB uint8 face crops (224 px, margin 0.3) cut by scan's own code from a real clip."""
    from deepverify.faces import create_detector
    from deepverify.faces.crops import crop_face
    from deepverify.video.frames import sample_frames

    detector = create_detector("opencv-ssd")
    crops = []
    for frame in sample_frames(real_clip, 8)[1]:
        found = detector.detect(frame.image)
        if found:
            crops.append(crop_face(frame.image, found[0].box, margin=0.3, size=224))
    assert len(crops) >= 6, "the real clip should show a face in most frames"
    return crops


@pytest.fixture(scope="session")
def c2pa_clips(real_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> SignedClips:
    """The real clip signed with a test-made certificate chain, in every provenance state."""
    from tests.provenance.signing import make_signed_clips

    return make_signed_clips(real_clip, tmp_path_factory.mktemp("c2pa"))
